/**
 * Code sync on DockerBackend (issue 19): a runner from the stock runner image
 * (`deno task runner-image`: the runner only, no app code, no tests) runs a
 * module that exists only in a temporary directory on the parent's disk, with
 * a second local module and an npm package (fetched from the npm registry
 * into the parent's cache by the build); code changed between two boots
 * reaches a new container while the old one finishes its call and is then
 * retired. Nothing is left behind.
 */

import assert from "node:assert/strict";
import { DockerBackend, type FlameEvent, Pool } from "../../mod.ts";
import { waitForAsync } from "../_helpers/backends.ts";
import {
  containersOfPool,
  createFileNetwork,
  docker,
  ignoreWithoutDocker,
} from "../_helpers/docker.ts";

const suffix = crypto.randomUUID().slice(0, 8);
const NETWORK = `flame-sync-${suffix}`;
const STOCK = `flame-docker-runner:stock-test-${suffix}`;

if (!ignoreWithoutDocker) {
  const built = await new Deno.Command("bash", {
    args: [new URL("../../docker/build_runner_image.sh", import.meta.url).pathname, STOCK],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!built.success) {
    throw new Error(`stock image build failed: ${new TextDecoder().decode(built.stderr)}`);
  }
  globalThis.addEventListener("unload", () => {
    new Deno.Command("docker", { args: ["rmi", "-f", STOCK], stdout: "null", stderr: "null" })
      .outputSync();
  });
  await createFileNetwork(NETWORK);
}

/** Closes `pool`, removes `dir`, and asserts the pool's containers are gone (removing any left). */
async function closeAndCheck(pool: Pool, name: string, dir: string): Promise<void> {
  await pool.close();
  await Deno.remove(dir, { recursive: true });
  await waitForAsync(async () => (await containersOfPool(name)).length === 0, 10_000);
  const left = await containersOfPool(name);
  if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
  assert.deepEqual(left, [], "containers left behind");
}

Deno.test({
  name:
    "[docker] a stock-image runner runs a module that exists only on the parent's disk, with a local and an npm import",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "flame-sync-docker-" });
    const name = `t-sync-${suffix}`;
    await Deno.writeTextFile(
      `${dir}/jobs.ts`,
      `import isNumber from "npm:is-number@7.0.0";
import { twice } from "./helper.ts";
export function check(x: unknown): [boolean, number, boolean] {
  let here = true;
  try { Deno.statSync(${JSON.stringify(`${dir}/jobs.ts`)}); } catch { here = false; }
  return [isNumber(x), twice(21), here];
}
`,
    );
    await Deno.writeTextFile(
      `${dir}/helper.ts`,
      `export const twice = (n: number): number => n * 2;\n`,
    );
    const pool = new Pool({
      backend: new DockerBackend({ image: STOCK, network: NETWORK, stopTimeout: 1000 }),
      name,
      max: 1,
      code: "sync",
    });
    try {
      const jobs = pool.module<{ check(x: unknown): [boolean, number, boolean] }>(
        `file://${dir}/jobs.ts`,
      );
      // The module's own file is not in the runner's container: only its shipped copy.
      assert.deepEqual(await jobs.check(7), [true, 42, false]);
      assert.deepEqual(await jobs.check("seven"), [false, 42, false]);
    } finally {
      await closeAndCheck(pool, name, dir);
    }
  },
});

Deno.test({
  name: "[docker] a 5 MB artifact reaches a stock-image runner in chunks and runs",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "flame-sync-docker-" });
    const name = `t-sync-big-${suffix}`;
    const rows = Array.from({ length: 52_000 }, (_, i) => `row ${i} `.padEnd(96, "x"));
    await Deno.writeTextFile(
      `${dir}/big.ts`,
      `const rows: string[] = ${JSON.stringify(rows)};\n` +
        `export const summary = (): [number, string] => [rows.length, rows[51_999]!.slice(0, 9)];\n`,
    );
    const ships: FlameEvent[] = [];
    const pool = new Pool({
      backend: new DockerBackend({ image: STOCK, network: NETWORK, stopTimeout: 1000 }),
      name,
      max: 1,
      code: "sync",
      onEvent: (e) => e.name === "flame.code.ship" && ships.push(e),
    });
    try {
      const big = pool.module<{ summary(): [number, string] }>(`file://${dir}/big.ts`);
      assert.deepEqual(await big.summary(), [52_000, "row 51999"]);
      assert.equal(ships.length, 1);
      const bytes = ships[0]!.attributes["flame.bytes"] as number;
      assert.ok(bytes > 5_000_000, `a 5 MB artifact, got ${bytes} bytes`);
    } finally {
      await closeAndCheck(pool, name, dir);
    }
  },
});

const SLOW = `export const slow = (ms: number) =>
  new Promise((r) => setTimeout(() => r(version().split(" ")[0] + " done"), ms));
`;

Deno.test({
  name:
    "[docker] changed code: a new container runs it; the old one finishes its call, then is retired and removed",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "flame-sync-docker-" });
    const name = `t-sync-chg-${suffix}`;
    await Deno.writeTextFile(`${dir}/v.ts`, `export const version = () => "v1";\n${SLOW}`);
    const shrinks: string[] = [];
    const pool = new Pool({
      backend: new DockerBackend({ image: STOCK, network: NETWORK, stopTimeout: 1000 }),
      name,
      max: 2,
      maxConcurrency: 1,
      code: "sync",
      onShrink: (e) => shrinks.push(e.reason),
    });
    try {
      const mod = pool.module<{ version(): string; slow(ms: number): Promise<string> }>(
        `file://${dir}/v.ts`,
      );
      assert.equal(await mod.version(), "v1");
      const [first] = await containersOfPool(name);
      assert.ok(first !== undefined, "the first runner's container");
      const old = mod.slow(2500).then((v) => v); // started now (a call starts when awaited)
      // On its runner (past its code check) before the file changes.
      await waitForAsync(() => Promise.resolve(pool.stats().busySlots === 1), 10_000);
      await Deno.writeTextFile(
        `${dir}/v.ts`,
        `export const version = () => "v2 (changed)";\n${SLOW}`,
      );
      await new Promise((r) => setTimeout(r, 1100)); // past the once-a-second freshness check
      assert.equal(await mod.version(), "v2 (changed)", "a new container runs the new code");
      assert.equal((await containersOfPool(name)).length, 2, "the old container still serves");
      assert.equal(await old, "v1 done", "the old container finished its call with its code");
      const retired = await waitForAsync(
        async () => !(await containersOfPool(name)).includes(first),
        15_000,
      );
      assert.ok(retired, "the old container was retired and removed once idle");
      assert.deepEqual(shrinks, ["code-changed"]);
      assert.equal(await mod.version(), "v2 (changed)");
      assert.equal(pool.stats().boots, 2);
    } finally {
      await closeAndCheck(pool, name, dir);
    }
  },
});

Deno.test({
  name: "[docker] (cleanup) the stock test image and network go",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await docker("network", "rm", NETWORK).catch(() => {});
    await docker("rmi", "-f", STOCK).catch(() => {});
  },
});
