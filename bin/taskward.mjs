#!/usr/bin/env node
// The operator CLI, run from the built JavaScript in dist/ (npm install and npm pack build it; npm run build rebuilds it).
let runCli;
try {
  ({ runCli } = await import("../dist/cli/main.js"));
} catch (error) {
  if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("dist/cli/main.js")) throw error;
  process.stderr.write("taskward: the CLI is not built; run `npm run build` in the taskward checkout\n");
  process.exit(1);
}
const { stdout, stderr, exitCode } = await runCli(process.argv.slice(2));
if (stdout) process.stdout.write(stdout.endsWith("\n") ? stdout : `${stdout}\n`);
if (stderr) process.stderr.write(stderr.endsWith("\n") ? stderr : `${stderr}\n`);
process.exitCode = exitCode;
