/** SIEM export: the audit chain as OCSF events, and its optional push through a Queue to R2. */
export { toOcsf, OCSF_MAPPING, OCSF_VERSION } from "./ocsf.js";
export { AuditShipper, type AuditShipment } from "./audit-shipper.js";
export { archiveAuditBatch } from "./archive-consumer.js";
