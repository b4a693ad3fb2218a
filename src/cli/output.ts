/** What a CLI command prints; `exitCode` 0 unless said otherwise. */
export interface CommandOutput {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
}

/** Wrong words on the command line: exit code 2 and the usage text. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The server refused or failed: exit code 1 with its message. */
export class RemoteError extends Error {
  override readonly name = "RemoteError";
}
