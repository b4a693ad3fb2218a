/** The TaskLedger Durable Object (per tenant): handles, revocations, the audit chain. */
export { TaskLedger } from "./task-ledger.js";
export { ledgerFor } from "./ledger-client.js";
export { verifyChain, genesisHash, type AuditEvent, type ChainVerification } from "./audit-chain.js";
export * from "./types.js";
