/**
 * A Docker engine that stops answering mid-life: a dockerd of the test's own
 * (tests/_helpers/own_dockerd.ts, in a network namespace of its own), frozen
 * with SIGSTOP. Its containers keep running; every request to it hangs.
 * `pool.close()` must return within `shutdownTimeout` plus the stop's fixed
 * bound whatever the engine does, with a runner idle or a boot under way.
 * Then the engine is thawed (SIGCONT) and everything is removed.
 */

import assert from "node:assert/strict";
import { BootError, DockerBackend, type FlameEvent, Pool, PoolClosedError } from "../../mod.ts";
import { LABEL_POOL } from "../../src/backends/docker/labels.ts";
import { stopBound } from "../../src/backends/docker/stop.ts";
import { sleep, waitFor } from "../_helpers/backends.ts";
import {
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
  TEST_LABEL,
} from "../_helpers/docker.ts";
import { type DockerdNode, OwnDockerds } from "../_helpers/own_dockerd.ts";

const SHUTDOWN_TIMEOUT = 2000;
const STOP_TIMEOUT = 1000;
/** What close() may take: the link's goodbye (at most shutdownTimeout), the stop's bound, scheduling slack. */
const CLOSE_BOUND = SHUTDOWN_TIMEOUT + stopBound(STOP_TIMEOUT) + 1000;

/** The pool's containers on the node, in every state. */
async function containersOn(node: DockerdNode, pool: string): Promise<string[]> {
  const out = await node.docker("ps", "-aq", "--filter", `label=${LABEL_POOL}=${pool}`);
  return out === "" ? [] : out.split("\n");
}

/** After a thaw: waits (bounded) for the engine to settle what it was asked, then removes what is left. */
async function cleanUp(node: DockerdNode, pool: string): Promise<string[]> {
  const end = Date.now() + 10_000;
  let left = await containersOn(node, pool);
  while (left.length > 0 && Date.now() < end) {
    await sleep(250);
    left = await containersOn(node, pool);
  }
  if (left.length > 0) await node.docker("rm", "-f", ...left);
  assert.deepEqual(await containersOn(node, pool), [], "containers left on the engine");
  return left;
}

Deno.test({
  name:
    "[chaos] a frozen engine (SIGSTOP) never holds up pool.close(): with a runner idle, and during a boot",
  ignore: ignoreWithoutDocker,
  fn: async (t) => {
    await ensureTestImage();
    const lab = await OwnDockerds.start({ images: [TEST_IMAGE] });
    const node = lab.nodes[0]!;
    console.log(
      `  own dockerd: engine up in ${lab.timings.engines} ms, image copied in ${lab.timings.images} ms`,
    );
    const suffix = crypto.randomUUID().slice(0, 6);
    const network = `flame-freeze-${suffix}`;
    const backend = () =>
      new DockerBackend({
        image: TEST_IMAGE,
        network,
        dockerSocketPath: node.socket,
        parentHost: lab.hostAddress,
        listenHost: lab.hostAddress,
        stopTimeout: STOP_TIMEOUT,
      });
    try {
      // Not --internal: the node's own namespace isolates it, and runners must reach the host's address.
      await node.docker("network", "create", "--label", TEST_LABEL, network);

      await t.step("frozen while a runner is idle: close() returns within the bound", async () => {
        const name = `freeze-idle-${suffix}`;
        const pool = new Pool({
          backend: backend(),
          name,
          max: 1,
          shutdownTimeout: SHUTDOWN_TIMEOUT,
        });
        let took = -1;
        try {
          assert.equal(await pool.call(() => 1 + 1), 2);
          node.freeze();
          const started = Date.now();
          await pool.close();
          took = Date.now() - started;
        } finally {
          node.thaw();
          await pool.close();
        }
        console.log(
          `  idle runner, engine frozen: close() took ${took} ms (bound ${CLOSE_BOUND} ms)`,
        );
        assert.ok(took <= CLOSE_BOUND, `close() took ${took} ms, more than ${CLOSE_BOUND} ms`);
        const left = await cleanUp(node, name);
        console.log(`  after the thaw: ${left.length} container(s) of the pool had to be removed`);
      });

      await t.step("frozen during a boot: close() gives the boot up within the bound", async () => {
        const name = `freeze-boot-${suffix}`;
        let frozenAt: number | undefined;
        const pool = new Pool({
          backend: backend(),
          name,
          max: 1,
          shutdownTimeout: SHUTDOWN_TIMEOUT,
          bootTimeout: 120_000,
          onEvent: (event: FlameEvent) => {
            // Frozen between create and start: the start (and the exit wait) hang.
            if (
              frozenAt === undefined && event.name === "flame.runner.boot.phase" &&
              event.attributes["flame.phase"] === "created"
            ) {
              node.freeze();
              frozenAt = Date.now();
            }
          },
        });
        let took = -1;
        let outcome: unknown;
        try {
          const call = pool.call(() => 1).then((v) => v, (e) => e);
          assert.ok(
            await waitFor(() => frozenAt !== undefined, 60_000),
            "the boot never got to created",
          );
          await sleep(300);
          const started = Date.now();
          await pool.close();
          took = Date.now() - started;
          outcome = await call;
        } finally {
          node.thaw();
          await pool.close();
        }
        console.log(
          `  boot under way, engine frozen: close() took ${took} ms (bound ${CLOSE_BOUND} ms)`,
        );
        assert.ok(took <= CLOSE_BOUND, `close() took ${took} ms, more than ${CLOSE_BOUND} ms`);
        assert.ok(
          outcome instanceof PoolClosedError || outcome instanceof BootError,
          `the call ended with ${outcome}`,
        );
        const left = await cleanUp(node, name);
        console.log(`  after the thaw: ${left.length} container(s) of the pool had to be removed`);
      });
    } finally {
      node.thaw();
      await node.docker("network", "rm", network).catch(() => {});
      await lab.close();
      console.log(`  own dockerd: torn down in ${lab.timings.teardown} ms`);
    }
  },
});
