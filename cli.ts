/**
 * The flame-docker command line: list runner containers, reap the leftovers
 * of dead parents, and check that Docker is set up for `DockerBackend`.
 *
 * ```sh
 * deno run -A jsr:@flame/docker/cli ps --all
 * deno run -A jsr:@flame/docker/cli reap --dry-run
 * deno run -A jsr:@flame/docker/cli doctor --network my_net --image my-app:latest
 * ```
 *
 * Exit codes: 0 success; 1 a check failed, leftovers found (`reap --dry-run`)
 * or a removal failed; 2 usage error; 3 the engine is unreachable.
 *
 * @example Running a command from code
 * ```ts
 * import assert from "node:assert/strict";
 * import { runCli } from "@flame/docker/cli";
 *
 * const lines: string[] = [];
 * const code = await runCli(["--version"], { out: (l) => lines.push(l), err: () => {} });
 * assert.ok(code === 0 && lines.length === 1);
 * ```
 *
 * @module
 */

import { runCli } from "./src/cli/main.ts";

export { runCli, VERSION } from "./src/cli/main.ts";
export type { CliIo } from "./src/cli/cli_io.ts";
export { ExitCode } from "./src/cli/exit_code.ts";

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
