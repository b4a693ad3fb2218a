import { Refusal } from "../errors.js";
import type { TaskLedger } from "./task-ledger.js";

/**
 * The stub of `tenant`'s ledger: one object per tenant, named by the tenant id. Every call that
 * fails (object unreachable, overloaded, throwing) rejects with a `ledger_unavailable` Refusal,
 * so each surface answers 503 and nothing proceeds as if the ledger had agreed: fail closed.
 */
export function ledgerFor(namespace: DurableObjectNamespace<TaskLedger>, tenant: string): DurableObjectStub<TaskLedger> {
  const stub = namespace.get(ledgerIdFor(namespace, tenant));
  return new Proxy(stub, {
    get(target, property) {
      if (typeof property !== "string" || property === "then") return (target as unknown as Record<string | symbol, unknown>)[property];
      return (...args: unknown[]) =>
        Promise.resolve()
          .then(() => (target as unknown as Record<string, (...a: unknown[]) => unknown>)[property]!(...args))
          .catch((error: unknown) => {
            if (error instanceof Refusal) throw error;
            throw new Refusal("ledger_unavailable", `${property}: ${(error as Error)?.message ?? String(error)}`);
          });
    },
  });
}

/** The Durable Object id of `tenant`'s ledger. */
export function ledgerIdFor(namespace: DurableObjectNamespace<TaskLedger>, tenant: string): DurableObjectId {
  return namespace.idFromName(`tenant:${tenant}`);
}
