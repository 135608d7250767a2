/**
 * `close()` of an idle pool is prompt: once its runners have left (idle), or
 * when it never booted one, there is nothing to wait for but what is already
 * ending. Behaviour bounds, kept generous: ProcessBackend and DockerBackend.
 */

import assert from "node:assert/strict";
import { type Backend, DockerBackend, Pool, ProcessBackend } from "../../mod.ts";
import { waitFor, waitForAsync } from "../_helpers/backends.ts";
import {
  containersOfPool,
  docker,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
  TestNetwork,
} from "../_helpers/docker.ts";

interface Case {
  kind: string;
  ignore: boolean;
  make: () => Promise<{ backend: () => Backend; cleanup: () => Promise<void> }>;
}

const cases: Case[] = [
  {
    kind: "process",
    ignore: false,
    make: () =>
      Promise.resolve({ backend: () => new ProcessBackend(), cleanup: () => Promise.resolve() }),
  },
  {
    kind: "docker",
    ignore: ignoreWithoutDocker,
    make: async () => {
      await ensureTestImage();
      const network = await TestNetwork.create("close");
      return {
        backend: () => new DockerBackend({ image: TEST_IMAGE, network: network.name }),
        cleanup: () => network.remove(),
      };
    },
  },
];

/** Milliseconds `pool.close()` takes. */
async function timeClose(pool: Pool): Promise<number> {
  const started = performance.now();
  await pool.close();
  return performance.now() - started;
}

for (const c of cases) {
  Deno.test({
    name: `[${c.kind}] close() of a pool whose runners left (idle) returns promptly`,
    ignore: c.ignore,
    fn: async () => {
      const { backend, cleanup } = await c.make();
      const name = `close-${c.kind}-${crypto.randomUUID().slice(0, 8)}`;
      try {
        const pool = new Pool({ backend: backend(), name, max: 2, idleShutdownAfter: 200 });
        try {
          await Promise.all(
            [1, 2].map(() => pool.call(() => new Promise((r) => setTimeout(r, 100)))),
          );
          assert.ok(await waitFor(() => pool.stats().runners === 0, 10_000), "runners stayed");
          // As the demo does: the runners are gone from the pool, their stops may still end.
          const ms = await timeClose(pool);
          console.log(`${c.kind}: close() after the runners left took ${ms.toFixed(0)} ms`);
          assert.ok(ms < 1000, `close() took ${ms.toFixed(0)} ms`);
        } finally {
          await pool.close();
        }
        const neverUsed = new Pool({ backend: backend(), name: `${name}-n`, max: 1 });
        const ms = await timeClose(neverUsed);
        assert.ok(ms < 500, `close() of a pool that never booted took ${ms.toFixed(0)} ms`);
        if (c.kind === "docker") {
          const gone = await waitForAsync(
            async () => (await containersOfPool(name)).length === 0,
            5000,
          );
          assert.ok(gone, "containers left behind");
        }
      } finally {
        if (c.kind === "docker") {
          const left = await containersOfPool(name).catch(() => []);
          if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
        }
        await cleanup();
      }
    },
  });
}
