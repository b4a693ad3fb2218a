import type { AuditShipment } from "./audit-shipper.js";
import { toOcsf } from "./ocsf.js";

/**
 * Queue consumer: writes each batch to R2 as NDJSON of OCSF events, one object per tenant ledger
 * shard per batch (`ocsf/<tenant>/<first seq>-<last seq>-<batch id>.ndjson` for shard 0,
 * `ocsf/<tenant>/shard-<k>/…` for shard k, whose chain numbers its own events). A failed write
 * retries the whole batch (the queue redelivers), so R2 holds every event at least once.
 */
export async function archiveAuditBatch(batch: MessageBatch<AuditShipment>, archive: R2Bucket): Promise<void> {
  const byChain = new Map<string, { tenant: string; shard: number; events: AuditShipment["event"][] }>();
  for (const message of batch.messages) {
    const { tenant, shard = 0, event } = message.body;
    const chain = byChain.get(`${tenant}\u0000${shard}`) ?? { tenant, shard, events: [] };
    chain.events.push(event);
    byChain.set(`${tenant}\u0000${shard}`, chain);
  }
  const batchId = crypto.randomUUID();
  for (const { tenant, shard, events } of byChain.values()) {
    events.sort((a, b) => a.seq - b.seq);
    const key = `ocsf/${tenant}/${shard === 0 ? "" : `shard-${shard}/`}${events[0]!.seq}-${events.at(-1)!.seq}-${batchId}.ndjson`;
    const body = events.map((event) => JSON.stringify(toOcsf(event, tenant, shard))).join("\n") + "\n";
    await archive.put(key, body, { httpMetadata: { contentType: "application/x-ndjson" } });
  }
  batch.ackAll();
}
