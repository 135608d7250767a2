/**
 * A runner that never connects fails its boot with a `BootError` that says
 * why, in the runner's own words (its last output lines), and the callers
 * waiting for it get that error, not their own `TimeoutError`, when their
 * `timeout` equals `bootTimeout` (as the defaults do): a program that is not
 * the runner, and a runner that cannot reach the parent; on ProcessBackend
 * and DockerBackend.
 */

import assert from "node:assert/strict";
import { type Backend, BootError, DockerBackend, Pool, ProcessBackend } from "../../mod.ts";
import { waitForAsync } from "../_helpers/backends.ts";
import {
  containersOfPool,
  docker,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
  TestNetwork,
} from "../_helpers/docker.ts";

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const suffix = crypto.randomUUID().slice(0, 8);

/** One call on a fresh pool whose timeout equals its bootTimeout; how it failed, and when. */
async function firstCall(
  backend: Backend,
  name: string,
  bootTimeout: number,
): Promise<{ err: unknown; ms: number }> {
  await using pool = new Pool({ backend, name, max: 1, bootTimeout, timeout: bootTimeout });
  const started = Date.now();
  const err = await pool.call(() => 1).then(() => undefined, (e) => e);
  return { err, ms: Date.now() - started };
}

function assertBootError(err: unknown, ms: number, within: number): asserts err is BootError {
  assert.ok(err instanceof BootError, `expected a BootError, got ${err}`);
  assert.ok(ms < within, `the BootError came after ${ms} ms, not within the call's ${within} ms`);
}

Deno.test("[process] a program that is not the runner: BootError with its output, before the call's timeout", async () => {
  const { err, ms } = await firstCall(
    new ProcessBackend({ runner: fixture("not_a_runner.ts") }),
    `causes-p1-${suffix}`,
    5000,
  );
  assertBootError(err, ms, 5000);
  assert.match(err.message, /did not connect within 4000 ms/);
  assert.match(err.message, /serving on :8080 \(not a flame runner\)/);
  assert.match(err.message, /warning: FLAME_PARENT is set but nothing here reads it/);
});

Deno.test("[process] a runner that cannot reach the parent: BootError with its reason, before the call's timeout", async () => {
  const { err, ms } = await firstCall(
    new ProcessBackend({ runner: fixture("unreachable_runner.ts") }),
    `causes-p2-${suffix}`,
    5000,
  );
  assertBootError(err, ms, 5000);
  assert.match(err.message, /exited before connecting \(exit code 3/);
  assert.match(
    err.message,
    /flame runner: Cannot connect to parent 127\.0\.0\.1:\d+ within 3000 ms: Connection refused/,
  );
});

/** A Docker boot test on a network of its own; afterwards nothing of its pool is left. */
function dockerTest(title: string, fn: (network: string, name: string) => Promise<void>): void {
  Deno.test({
    name: `[docker] ${title}`,
    ignore: ignoreWithoutDocker,
    fn: async () => {
      await ensureTestImage();
      const network = await TestNetwork.create("causes");
      const name = `causes-${crypto.randomUUID().slice(0, 8)}`;
      try {
        await fn(network.name, name);
        const gone = await waitForAsync(
          async () => (await containersOfPool(name)).length === 0,
          5000,
        );
        assert.ok(gone, `containers left behind: ${await containersOfPool(name)}`);
      } finally {
        const left = await containersOfPool(name).catch(() => []);
        if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
        await network.remove();
      }
    },
  });
}

dockerTest(
  "a wrong parentHost: BootError with the runner's reason, before the call's timeout",
  async (network, name) => {
    const { err, ms } = await firstCall(
      new DockerBackend({
        image: TEST_IMAGE,
        network,
        // The runner's own loopback: nothing listens there.
        parentHost: "127.0.0.1",
        listenHost: "127.0.0.1",
      }),
      name,
      10_000,
    );
    assertBootError(err, ms, 10_000);
    assert.match(err.message, /container exited with code 3/);
    assert.match(
      err.message,
      /flame runner: Cannot connect to parent 127\.0\.0\.1:\d+ within 6000 ms: Connection refused/,
    );
  },
);

dockerTest(
  "an image CMD that is not the runner: BootError with its output, before the call's timeout",
  async (network, name) => {
    const { err, ms } = await firstCall(
      new DockerBackend({
        image: TEST_IMAGE,
        network,
        cmd: ["/usr/local/bin/deno", "run", "--allow-all", fixture("not_a_runner.ts")],
        stopTimeout: 1000,
      }),
      name,
      10_000,
    );
    assertBootError(err, ms, 10_000);
    assert.match(err.message, /did not connect within 8000 ms/);
    assert.match(err.message, /serving on :8080 \(not a flame runner\)/);
    assert.match(err.message, /warning: FLAME_PARENT is set but nothing here reads it/);
  },
);
