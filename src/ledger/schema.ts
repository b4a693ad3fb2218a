/**
 * The TaskLedger's SQLite schema. docs/ledger-schema.md describes every table and column with
 * its security property; keep the two in step.
 */
export const LEDGER_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS tasks (
     jti TEXT PRIMARY KEY,
     task_id TEXT NOT NULL,
     handle TEXT NOT NULL,
     client_id TEXT NOT NULL,
     subject TEXT NOT NULL,
     tool TEXT NOT NULL,
     ops TEXT NOT NULL,
     mcp TEXT NOT NULL,
     bind TEXT NOT NULL,
     max_auth_age INTEGER,
     step_up_ops TEXT NOT NULL,
     status TEXT NOT NULL,
     issued_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     delivered_at INTEGER,
     revoked_at INTEGER,
     revoke_reason TEXT,
     parent TEXT,
     actor TEXT
   )`,
  `CREATE INDEX IF NOT EXISTS tasks_by_task_id ON tasks(task_id)`,
  `CREATE INDEX IF NOT EXISTS tasks_by_expiry ON tasks(expires_at)`,
  `CREATE INDEX IF NOT EXISTS tasks_by_parent ON tasks(parent)`,
  `CREATE TABLE IF NOT EXISTS revocations (
     scope TEXT NOT NULL,
     value TEXT NOT NULL,
     issued_before INTEGER NOT NULL,
     revoked_at INTEGER NOT NULL,
     reason TEXT,
     PRIMARY KEY (scope, value)
   )`,
  `CREATE TABLE IF NOT EXISTS api_keys (
     id TEXT PRIMARY KEY,
     secret_sha256 TEXT NOT NULL,
     client_id TEXT NOT NULL,
     subject TEXT NOT NULL,
     label TEXT,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   )`,
  // A key binding lives beside api_keys (not as a column) so existing objects need no ALTER.
  `CREATE TABLE IF NOT EXISTS api_key_bindings (
     id TEXT PRIMARY KEY,
     jkt TEXT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS audit (
     seq INTEGER PRIMARY KEY,
     at INTEGER NOT NULL,
     last_at INTEGER NOT NULL,
     count INTEGER NOT NULL,
     type TEXT NOT NULL,
     jti TEXT,
     op TEXT,
     client_id TEXT,
     subject TEXT,
     reason TEXT,
     detail TEXT,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS audit_by_time ON audit(at)`,
  // DPoP replay cache of earlier releases (a rowid table and two indexes: three rows per proof); its live rows move to dpop_spent.
  `CREATE TABLE IF NOT EXISTS dpop_proofs (
     proof_key TEXT PRIMARY KEY,
     expires_at INTEGER NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS dpop_proofs_by_expiry ON dpop_proofs(expires_at)`,
  // DPoP replay cache: one row per proof spent, until its iat window closes; clustered on its key, no other index: one row written per proof.
  `CREATE TABLE IF NOT EXISTS dpop_spent (
     proof_key TEXT PRIMARY KEY,
     expires_at INTEGER NOT NULL
   ) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS audit_spans (
     key TEXT PRIMARY KEY,
     window_end INTEGER NOT NULL,
     first_seq INTEGER NOT NULL,
     pending INTEGER NOT NULL,
     pending_at INTEGER,
     last_at INTEGER,
     type TEXT NOT NULL,
     jti TEXT,
     op TEXT,
     client_id TEXT,
     subject TEXT,
     reason TEXT,
     detail TEXT
   )`,
  `CREATE INDEX IF NOT EXISTS audit_spans_by_end ON audit_spans(window_end)`,
  `CREATE TABLE IF NOT EXISTS audit_checkpoints (
     seq INTEGER PRIMARY KEY,
     hash TEXT NOT NULL,
     at INTEGER NOT NULL,
     reason TEXT NOT NULL,
     jws TEXT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS rate_windows (
     kind TEXT NOT NULL,
     key TEXT NOT NULL,
     window_start INTEGER NOT NULL,
     count INTEGER NOT NULL,
     PRIMARY KEY (kind, key)
   )`,
  `CREATE INDEX IF NOT EXISTS audit_by_jti ON audit(jti)`,
  `CREATE TABLE IF NOT EXISTS task_sessions (task_id TEXT PRIMARY KEY, session_id TEXT NOT NULL)`,
];

/** Columns added after a table first shipped: added in place to objects created before them. */
export const LEDGER_ADDED_COLUMNS: ReadonlyArray<{ table: string; column: string; definition: string }> = [
  { table: "tasks", column: "origin_handle", definition: "TEXT" },
  { table: "tasks", column: "session_key", definition: "TEXT" },
  // The audience (origin) the handle was minted for; NULL on rows from before ORIGINS: the default origin's.
  { table: "tasks", column: "audience", definition: "TEXT" },
];
