/** `_meta` keys and names shared by the revisions. */
export const PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion";
export const RELATED_TASK_META = "io.modelcontextprotocol/related-task";
export const CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities";
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";
