/**
 * A runner container the kernel kills at its memory limit: the call on it
 * fails with a `RunnerExitedError` that says "out of memory" and the limit
 * (the engine's `State.OOMKilled` and `HostConfig.Memory`), while a call on
 * the pool's other runner finishes untouched.
 */

import assert from "node:assert/strict";
import { type CallContext, DockerBackend, Pool, RunnerExitedError } from "../../mod.ts";
import { waitForAsync } from "../_helpers/backends.ts";
import {
  containersOfPool,
  docker,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
  TestNetwork,
} from "../_helpers/docker.ts";

const MiB = 1024 * 1024;

Deno.test({
  name: "[docker] a runner killed for memory says so; the other runner's call is untouched",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await ensureTestImage();
    const network = await TestNetwork.create("oom");
    const name = `oom-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await oomScenario(network.name, name);
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

async function oomScenario(network: string, name: string): Promise<void> {
  const backend = new DockerBackend({
    image: TEST_IMAGE,
    network,
    // No swap either (an engine without swap accounting takes MemorySwap equal to Memory).
    hostConfig: { Memory: 64 * MiB, MemorySwap: 64 * MiB },
  });
  // Both runners up and idle first, so each call has its own (a runner that
  // freed its slot before the other connected would otherwise take both).
  await using pool = new Pool({ backend, name, min: 2, max: 2, maxConcurrency: 1 });
  const up = await waitForAsync(() => Promise.resolve(pool.stats().runners === 2), 60_000);
  assert.ok(up, `both runners did not connect: ${JSON.stringify(pool.stats())}`);
  const ids = await Promise.all([1, 2].map(() =>
    pool.call(async function (this: CallContext) {
      await new Promise((r) => setTimeout(r, 300));
      return this.runnerId;
    })
  ));
  assert.equal(new Set(ids).size, 2);
  const steady = pool.call(async function (this: CallContext) {
    await new Promise((r) => setTimeout(r, 3000));
    return this.runnerId;
  });
  const greedy = pool.call(function (this: CallContext) {
    const held: Uint8Array[] = [];
    // Touched pages, outside the JS heap: the cgroup's limit, not V8's, is what stops it.
    for (let i = 0; i < 1024; i++) held.push(new Uint8Array(1024 * 1024).fill(1));
    return held.length;
  });
  const err = await greedy.then(() => undefined, (e) => e);
  assert.ok(err instanceof RunnerExitedError, `expected a RunnerExitedError, got ${err}`);
  assert.match(err.message, /out of memory/);
  assert.match(err.message, /64 MiB/);
  const survivor = await steady;
  assert.ok(ids.includes(survivor));
  assert.notEqual(survivor, err.runnerId);
}
