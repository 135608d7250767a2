/**
 * The runner entry point: the container `CMD`, the `deno compile` target, the
 * script `ProcessBackend` starts. It reads `FLAME_PARENT`, connects back to the
 * parent, proves it knows its secret, runs calls, and exits when the parent
 * goes away, stays silent, shuts it down, or it has been idle too long.
 *
 * ```sh
 * deno run --allow-all jsr:@flame/docker/runner --help
 * ```
 *
 * @module
 */

import { runRunner } from "./src/runner/main.ts";
import { consoleLogger } from "./src/util/logger.ts";
import { MAX_WORKERS } from "./src/protocol/parent_env.ts";
import denoJson from "./deno.json" with { type: "json" };

/**
 * The package version this runner belongs to.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VERSION } from "@flame/docker/runner";
 *
 * assert.match(VERSION, /^\d+\.\d+\.\d+/);
 * ```
 */
export const VERSION: string = denoJson.version;

const HELP = `flame-docker runner ${VERSION}

Runs functions for a flame-docker pool. Started by a backend, not by hand.

Usage: deno run --allow-all runner.ts [--help] [--version]

Environment:
  FLAME_PARENT          (required) set by the backend: where the parent is and
                        this runner's secret (base64url JSON, protocol v2)
  FLAME_LOG_LEVEL       debug | info | warn | error (default: warn)
  FLAME_RUNNER_WORKERS  call workers (Web Workers that run the calls); 0 runs
                        calls on the main thread (default: the CPUs the
                        process is given: its cgroup quota, else all)

Exit codes: 0 normal end, 2 FLAME_PARENT missing or invalid, 3 parent
unreachable before the boot deadline, 4 authentication failed.`;

/**
 * `FLAME_RUNNER_WORKERS`, when set and readable (a runner started with a narrow
 * `--allow-env` may not read it: then the default).
 */
function readWorkers(): number | undefined | Error {
  const name = "FLAME_RUNNER_WORKERS";
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
    return undefined;
  }
  const text = Deno.env.get(name)?.trim();
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > MAX_WORKERS) {
    return new Error(`${name} must be an integer from 0 to ${MAX_WORKERS}, got "${text}"`);
  }
  return n;
}

if (import.meta.main) {
  // A backend starts the runner with no arguments; `node:util` costs a cold
  // boot about 12 ms, so it is loaded only when there are flags to read.
  const values = Deno.args.length === 0 ? {} : (await import("node:util")).parseArgs({
    args: Deno.args,
    options: { help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "V" } },
    strict: false,
  }).values;
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  if (values.version) {
    console.log(VERSION);
    Deno.exit(0);
  }
  const parentEnv = Deno.env.get("FLAME_PARENT");
  if (parentEnv === undefined) {
    console.error(
      "flame runner: FLAME_PARENT is not set; this program is started by a flame-docker backend (see --help)",
    );
    Deno.exit(2);
  }
  const level = Deno.env.get("FLAME_LOG_LEVEL");
  const workers = readWorkers();
  if (workers instanceof Error) {
    console.error(`flame runner: ${workers.message}`);
    Deno.exit(2);
  }
  const logger = consoleLogger(
    "[flame runner]",
    level === "debug" || level === "info" || level === "error" ? level : "warn",
  );
  const controller = new AbortController();
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    try {
      Deno.addSignalListener(sig, () => controller.abort());
    } catch {
      // Signals are not available on every platform.
    }
  }
  const exit = await runRunner(parentEnv, {
    logger,
    signal: controller.signal,
    ...(workers === undefined ? {} : { workers }),
  });
  if (exit.code !== 0) console.error(`flame runner: ${exit.message}`);
  Deno.exit(exit.code);
}
