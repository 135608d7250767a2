// The parent side on Node.js: the bundles `deno bundle --platform node` makes of
// mod.ts and src/docker/mod.ts, loaded by Node and driven with node:test. Started by
// tests/integration/node_test.ts, which passes the bundle path, the runner
// script, and (when an engine answers) a test network and image.
import { test } from "node:test";
import assert from "node:assert/strict";

const lib = await import(process.env.FLAME_BUNDLE);
const dockerLib = await import(process.env.FLAME_DOCKER_BUNDLE);
const network = process.env.FLAME_NETWORK;
const image = process.env.FLAME_IMAGE;

test("a Pool on ProcessBackend runs calls, errors and streams from Node", async () => {
  const pool = new lib.Pool({
    name: "node",
    backend: new lib.ProcessBackend({ runner: process.env.FLAME_RUNNER }),
    max: 2,
  });
  try {
    assert.equal(await pool.call((a, b) => a + b, [1, 2]), 3);
    const bytes = await pool.call((b) => b.map((x) => x * 2), [new Uint8Array([1, 2, 3])]);
    assert.deepEqual([...bytes], [2, 4, 6]);
    await assert.rejects(
      pool.call(() => {
        throw new RangeError("from the runner");
      }),
      (e) => e instanceof lib.RemoteError && e.remoteName === "RangeError",
    );
    const stream = await pool.call(async function* () {
      yield 1;
      yield 2;
    });
    const got = [];
    for await (const v of stream) got.push(v);
    assert.deepEqual(got, [1, 2]);
    const sums = await Promise.all(
      Array.from({ length: 200 }, (_, i) => pool.call((x) => x + 1, [i])),
    );
    assert.equal(sums.reduce((a, b) => a + b, 0), 200 * 201 / 2);
  } finally {
    await pool.close();
  }
  assert.equal(pool.stats().runners, 0);
});

test("code sync from a Node parent: the deno dependency bundles, the runner imports the shipped copy", async () => {
  const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const dir = await mkdtemp(`${tmpdir()}/flame-node-sync-`);
  await writeFile(`${dir}/helper.ts`, "export const twice = (n: number): number => n * 2;\n");
  await writeFile(
    `${dir}/jobs.ts`,
    'import { twice } from "./helper.ts";\nexport const where = (n: number): [number, string] => [twice(n), import.meta.url];\n',
  );
  const pool = new lib.Pool({
    name: "node-sync",
    backend: new lib.ProcessBackend({ runner: process.env.FLAME_RUNNER }),
    max: 1,
    code: "sync",
  });
  try {
    const [n, url] = await pool.module(`file://${dir}/jobs.ts`).where(21);
    assert.equal(n, 42);
    assert.match(url, /\/flame-code-[^/]+\/[0-9a-f]{64}\.mjs$/, "imported from the runner's copy");
    await assert.rejects(
      pool.module(`file://${dir}/missing.ts`).where(1),
      (e) => e instanceof lib.CodeSyncError,
    );
  } finally {
    await pool.close();
    await rm(dir, { recursive: true });
  }
});

test("DockerClient talks to the engine from Node", { skip: !network }, async () => {
  const client = new dockerLib.DockerClient();
  try {
    const ping = await client.ping();
    assert.ok(ping.apiVersion);
    const net = await client.networkInspect(network);
    assert.equal(net.Name, network);
  } finally {
    await client.close();
  }
});

test("a Pool on DockerBackend boots a runner container from Node", { skip: !network }, async () => {
  const pool = new lib.Pool({
    name: "node-docker",
    backend: new lib.DockerBackend({ image, network }),
    max: 1,
  });
  try {
    const host = await pool.call(() => Deno.hostname());
    assert.match(host, /-flame-[0-9a-f]{20}$/);
    assert.equal(await pool.call((s) => s.toUpperCase(), ["node"]), "NODE");
  } finally {
    await pool.close();
  }
});
