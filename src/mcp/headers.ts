/** Header names taskward reads or writes. */

/** Compatibility mode (FORWARD_TASK_HANDLE_HEADER): carries the verified handle to the origin on forwarded follow-ups. */
export const TASK_HANDLE_HEADER = "Taskward-Task-Handle";
export const PROTOCOL_VERSION_HEADER = "MCP-Protocol-Version";
export const SESSION_ID_HEADER = "Mcp-Session-Id";
/** 2026-07-28: names the task a request is about (equal to params.taskId). */
export const MCP_NAME_HEADER = "Mcp-Name";
