import type { TaskLedger } from "./task-ledger.js";

/** The stub of `tenant`'s ledger: one object per tenant, named by the tenant id. */
export function ledgerFor(namespace: DurableObjectNamespace<TaskLedger>, tenant: string): DurableObjectStub<TaskLedger> {
  return namespace.get(namespace.idFromName(`tenant:${tenant}`));
}
