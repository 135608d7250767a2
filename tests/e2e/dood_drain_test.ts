/**
 * A deploy drains: `docker stop` of a Docker-out-of-Docker parent that calls
 * `closeOnSignals(pool)` while calls are in flight. The calls finish, the
 * runner containers are gone, and the parent exits 0 (not 137 after the
 * grace period, nor with its calls dropped). Everything is removed.
 */

import assert from "node:assert/strict";
import {
  docker,
  ensureTestImage,
  ignoreWithoutDocker,
  runParentContainer,
  TestNetwork,
} from "../_helpers/docker.ts";

const root = new URL("../../", import.meta.url).pathname;

/** Polls `docker logs` until `text` appears (bounded). */
async function logsUntil(container: string, text: string, timeout: number): Promise<string> {
  const deadline = Date.now() + timeout;
  let logs = "";
  while (Date.now() < deadline) {
    logs = await docker("logs", container).catch((e) => String(e));
    if (logs.includes(text)) return logs;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`"${text}" not in the logs of ${container} within ${timeout} ms:\n${logs}`);
}

Deno.test({
  name: "Docker-out-of-Docker: docker stop drains the calls in flight, stops the runners, exits 0",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await ensureTestImage();
    const network = await TestNetwork.create("drain");
    const parent = `${network.name}-parent`;
    try {
      await runParentContainer(parent, network.name, [
        "/usr/local/bin/deno",
        "run",
        "--allow-all",
        `${root}tests/fixtures/signal_parent.ts`,
      ], { env: { FLAME_DOCKER: "1", FLAME_CALL_MS: "3000" } });
      await logsUntil(parent, "in flight", 120_000);
      assert.equal((await network.containers(true)).length, 2, "two runners serve the calls");
      const stopped = Date.now();
      await docker("stop", "-t", "30", parent);
      const took = Date.now() - stopped;
      const code = await docker("inspect", "--format", "{{.State.ExitCode}}", parent);
      const logs = await docker("logs", parent);
      assert.equal(code, "0", `exit code ${code} after ${took} ms:\n${logs}`);
      const line = logs.split("\n").find((l) => l.startsWith("{"));
      assert.ok(line, logs);
      const results = JSON.parse(line).results as { n: number }[];
      assert.deepEqual(results.map((r) => r.n), [1, 2, 3], "every call in flight finished");
      assert.deepEqual(await network.containers(true), [], "runner containers left behind");
      console.log(`docker stop took ${took} ms`);
    } finally {
      await docker("rm", "-f", parent).catch(() => {});
      await network.remove();
    }
  },
});
