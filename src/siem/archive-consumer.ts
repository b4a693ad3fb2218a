import type { AuditShipment } from "./audit-shipper.js";
import { toOcsf } from "./ocsf.js";

/**
 * Queue consumer: writes each batch to R2 as NDJSON of OCSF events, one object per tenant per
 * batch (`ocsf/<tenant>/<first seq>-<last seq>-<batch id>.ndjson`). A failed write retries the
 * whole batch (the queue redelivers), so R2 holds every event at least once.
 */
export async function archiveAuditBatch(batch: MessageBatch<AuditShipment>, archive: R2Bucket): Promise<void> {
  const byTenant = new Map<string, AuditShipment["event"][]>();
  for (const message of batch.messages) {
    const events = byTenant.get(message.body.tenant) ?? [];
    events.push(message.body.event);
    byTenant.set(message.body.tenant, events);
  }
  const batchId = crypto.randomUUID();
  for (const [tenant, events] of byTenant) {
    events.sort((a, b) => a.seq - b.seq);
    const key = `ocsf/${tenant}/${events[0]!.seq}-${events.at(-1)!.seq}-${batchId}.ndjson`;
    const body = events.map((event) => JSON.stringify(toOcsf(event, tenant))).join("\n") + "\n";
    await archive.put(key, body, { httpMetadata: { contentType: "application/x-ndjson" } });
  }
  batch.ackAll();
}
