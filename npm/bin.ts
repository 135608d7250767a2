#!/usr/bin/env node
/**
 * The npm package's `flame-docker` command: runs the CLI (`cli.js`) on Deno,
 * as `deno run -A jsr:@flame/docker/cli` does. The Deno is found as
 * ProcessBackend finds one: `$DENO_BIN`, else `deno` on `PATH`, else the `deno`
 * npm package this package depends on. Arguments, standard streams, signals
 * and the exit code pass through.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { findDeno } from "../src/runtime.ts";

const deno = findDeno();
if (deno.path === undefined) {
  console.error(
    `flame-docker: no Deno executable found (${deno.looked.join("; ")}): ` +
      'reinstall this package (its "deno" dependency provides one), or set DENO_BIN',
  );
  process.exit(1);
}
const cli = fileURLToPath(new URL("../cli.js", import.meta.url));
const child = spawn(
  deno.path,
  ["run", "--allow-all", "--no-config", cli, ...process.argv.slice(2)],
  {
    stdio: "inherit",
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
  },
);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => child.kill(signal));
}
child.once("error", (error) => {
  console.error(`flame-docker: cannot run "${deno.path}": ${error.message}`);
  process.exit(1);
});
child.once("exit", (code, signal) => {
  process.exit(code ?? (signal === null ? 1 : 128 + signalNumber(signal)));
});

function signalNumber(signal: string): number {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 1;
}
