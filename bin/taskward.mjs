#!/usr/bin/env node
// The operator CLI. Its code is TypeScript shared with the Worker (key ring, audit chain), run through tsx.
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/cli/main.ts");
const { stdout, stderr, exitCode } = await runCli(process.argv.slice(2));
if (stdout) process.stdout.write(stdout.endsWith("\n") ? stdout : `${stdout}\n`);
if (stderr) process.stderr.write(stderr.endsWith("\n") ? stderr : `${stderr}\n`);
process.exitCode = exitCode;
