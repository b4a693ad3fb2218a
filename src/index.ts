/** Worker entry: the fetch handler (the Hono app), the audit archive's queue consumer, and the Durable Object class. */
import { createApp } from "./app.js";
import type { WorkerEnv } from "./config.js";
import { archiveAuditBatch } from "./siem/archive-consumer.js";
import type { AuditShipment } from "./siem/audit-shipper.js";

export { TaskLedger } from "./ledger/task-ledger.js";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch: MessageBatch<AuditShipment>, env: WorkerEnv): Promise<void> {
    if (!env.AUDIT_ARCHIVE) throw new Error("audit batch received but the AUDIT_ARCHIVE binding is missing");
    await archiveAuditBatch(batch, env.AUDIT_ARCHIVE);
  },
} satisfies ExportedHandler<WorkerEnv, AuditShipment>;
