/** Why a task handle was not accepted; `code` is stable and machine-readable. */
export type TaskHandleErrorCode =
  | "ERR_HANDLE_MALFORMED"
  | "ERR_HANDLE_TOO_LONG"
  | "ERR_HANDLE_ALG_NOT_ALLOWED"
  | "ERR_HANDLE_TYP"
  | "ERR_HANDLE_HEADER_NOT_ALLOWED"
  | "ERR_HANDLE_KID_MISSING"
  | "ERR_HANDLE_KID_UNKNOWN"
  | "ERR_HANDLE_SIGNATURE"
  | "ERR_HANDLE_EXPIRED"
  | "ERR_HANDLE_NOT_YET_VALID"
  | "ERR_HANDLE_CLAIM";

export class TaskHandleError extends Error {
  override readonly name = "TaskHandleError";
  constructor(
    readonly code: TaskHandleErrorCode,
    message: string,
    /** The claim that failed, for ERR_HANDLE_CLAIM. */
    readonly claim?: string,
  ) {
    super(message);
  }
}
