import type { ChildProcess } from "node:child_process";

export declare const HOST: string;
export declare function freePort(): Promise<number>;
export declare function portIsFree(port: number): Promise<boolean>;
export declare function waitForPortFree(port: number, timeoutMs?: number): Promise<void>;

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** A child in its own process group, with its output kept (last 64 KiB) for failure messages. */
export interface GroupProcess {
  child: ChildProcess;
  pid: number;
  label: string;
  output(): string;
  running(): boolean;
  exited: Promise<Exit>;
  /** Signals the group, SIGKILLs it after a grace period, and waits until the whole group is gone. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
  kill(): void;
}

export declare function spawnGroup(command: string, args: string[], options?: { cwd?: string; env?: Record<string, string>; label?: string; stopGraceMs?: number }): GroupProcess;
export declare function waitUntil(url: string, accept: (response: Response, body: string) => boolean, owner?: GroupProcess, timeoutMs?: number): Promise<string>;
export declare function writeSecretsFile(path: string, values: Record<string, string>): void;
