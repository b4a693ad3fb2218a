import { chmod, readFile, writeFile } from "node:fs/promises";

/**
 * Writes a file only its owner can read (0600): signing keys and audit exports are secrets or
 * evidence. The mode is set again after writing, since `mode` only applies to a new file.
 */
export async function writePrivateFile(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  await chmod(path, 0o600);
}

/** The first line of a file holding a secret (an admin token), without its line ending. */
export async function readSecretFile(path: string): Promise<string> {
  return (await readFile(path, "utf8")).split(/\r?\n/)[0]!.trim();
}
