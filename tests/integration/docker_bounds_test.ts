/**
 * Every Docker call DockerBackend makes to boot, stop and close has a
 * deadline: a container that never started is removed (even with
 * `keepRunners`) and never waited for, and `pool.close()` returns within
 * `shutdownTimeout` plus the stop's fixed bound whatever the engine answers
 * to stop, remove and wait: nothing, 500, or a dropped connection (injected
 * by a front of the test's own in front of the real engine).
 */

import assert from "node:assert/strict";
import { BootError, DockerBackend, Pool } from "../../mod.ts";
import { stopBound } from "../../src/backends/docker/stop.ts";
import { waitForAsync } from "../_helpers/backends.ts";
import { FaultFront } from "../_helpers/fault_front.ts";
import {
  containersOfPool,
  createFileNetwork,
  docker,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
} from "../_helpers/docker.ts";

const suffix = crypto.randomUUID().slice(0, 8);
const NETWORK = `flame-bounds-${suffix}`;
const SHUTDOWN_TIMEOUT = 2000;
const STOP_TIMEOUT = 1000;
/** What close() may take: the link's goodbye (at most shutdownTimeout), the stop's bound, scheduling slack. */
const CLOSE_BOUND = SHUTDOWN_TIMEOUT + stopBound(STOP_TIMEOUT) + 1000;

if (!ignoreWithoutDocker) {
  await ensureTestImage();
  await createFileNetwork(NETWORK);
}

/** Waits (bounded) for a pool's containers to go, then force-removes what is left; returns what was left. */
async function removeLeft(pool: string): Promise<string[]> {
  await waitForAsync(async () => (await containersOfPool(pool)).length === 0, 5000);
  const left = await containersOfPool(pool);
  if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
  return left;
}

Deno.test({
  name:
    "[docker] a container that never starts (keepRunners, cmd /nonexistent) fails the boot with the engine's reason, is removed, and close() is bounded",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const name = `t-bounds-never-${suffix}`;
    const pool = new Pool({
      backend: new DockerBackend({
        image: TEST_IMAGE,
        network: NETWORK,
        keepRunners: true,
        cmd: ["/nonexistent"],
        stopTimeout: STOP_TIMEOUT,
      }),
      name,
      max: 1,
      shutdownTimeout: SHUTDOWN_TIMEOUT,
    });
    try {
      const started = Date.now();
      const err = await pool.call(() => 1).catch((e) => e);
      const bootMs = Date.now() - started;
      assert.ok(err instanceof BootError, String(err));
      assert.match(err.message, /Cannot start runner container "[^"]+": .*\/nonexistent/);
      assert.ok(err.cause instanceof Error, "the start failure is the cause");
      assert.ok(bootMs < 15_000, `the boot failed after ${bootMs} ms`);
      assert.deepEqual(await containersOfPool(name), [], "the never-started container is removed");
      const closing = Date.now();
      await pool.close();
      const closeMs = Date.now() - closing;
      console.log(`  boot failed in ${bootMs} ms; close() took ${closeMs} ms`);
      assert.ok(closeMs <= CLOSE_BOUND, `close() took ${closeMs} ms, more than ${CLOSE_BOUND} ms`);
    } finally {
      await pool.close();
      const left = await removeLeft(name);
      assert.deepEqual(left, [], "containers left behind");
    }
  },
});

/** How the front fails a request. */
for (const fault of ["hang", "500", "drop"] as const) {
  Deno.test({
    name:
      `[docker] close() is bounded when the engine answers stop, remove and wait with: ${fault}`,
    ignore: ignoreWithoutDocker,
    fn: async () => {
      const name = `t-bounds-${fault}-${suffix}`;
      const front = await FaultFront.start();
      const wait = { method: "POST", path: /^\/containers\/[^/]+\/wait$/, fault };
      // A 500 to the first wait would read as the runner's exit: fail it only at the stop.
      front.rules = fault === "500" ? [] : [wait];
      const pool = new Pool({
        backend: new DockerBackend({
          image: TEST_IMAGE,
          network: NETWORK,
          dockerSocketPath: front.path,
          stopTimeout: STOP_TIMEOUT,
        }),
        name,
        max: 1,
        shutdownTimeout: SHUTDOWN_TIMEOUT,
      });
      try {
        assert.equal(await pool.call(() => "up"), "up");
        front.rules = [
          wait,
          { method: "POST", path: /^\/containers\/[^/]+\/stop$/, fault },
          { method: "DELETE", path: /^\/containers\/[^/]+$/, fault },
        ];
        const started = Date.now();
        await pool.close();
        const took = Date.now() - started;
        console.log(`  ${fault}: close() took ${took} ms; failed: ${front.failed.join(", ")}`);
        assert.ok(took <= CLOSE_BOUND, `close() took ${took} ms, more than ${CLOSE_BOUND} ms`);
        assert.ok(
          front.failed.some((f) => f.startsWith("POST /containers/") && f.includes("/stop")),
          `the stop went through the fault: ${front.failed}`,
        );
      } finally {
        await pool.close();
        await front.close();
        // The runner exits once its link is closed, and AutoRemove removes it.
        const left = await removeLeft(name);
        assert.deepEqual(left, [], "containers left behind once the engine was reachable again");
      }
    },
  });
}
