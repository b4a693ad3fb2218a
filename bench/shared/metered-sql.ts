/**
 * SQLite metering of one ledger call, for the bench (rows read and written are what Cloudflare
 * bills) and for tests that pin those counts. Every holder of the object's `SqlStorage` (the
 * ledger, its audit log, its rate limiters, its audit shipper) is pointed at a counting wrapper for
 * the call, so no statement escapes the count.
 */
export interface Metered<T> {
  result: T;
  statements: number;
  rowsRead: number;
  rowsWritten: number;
}

const SQL_HOLDERS = ["audit", "creations", "refusals", "shipper"] as const;

export function meterLedgerSql<T>(ledger: object, call: () => T): Metered<T> {
  const holders = [ledger, ...SQL_HOLDERS.map((name) => (ledger as Record<string, unknown>)[name])].filter((holder): holder is { sql: SqlStorage } => typeof holder === "object" && holder !== null && "sql" in holder);
  const raw = (ledger as { sql: SqlStorage }).sql;
  const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  const counting = Object.create(raw) as SqlStorage;
  counting.exec = ((query: string, ...bindings: SqlStorageValue[]) => {
    const cursor = raw.exec(query, ...bindings);
    cursors.push(cursor);
    return cursor;
  }) as SqlStorage["exec"];
  for (const holder of holders) holder.sql = counting;
  let result: T;
  try {
    result = call();
  } finally {
    for (const holder of holders) holder.sql = raw;
  }
  return { result, statements: cursors.length, rowsRead: cursors.reduce((sum, c) => sum + c.rowsRead, 0), rowsWritten: cursors.reduce((sum, c) => sum + c.rowsWritten, 0) };
}
