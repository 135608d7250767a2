/**
 * Code sync on DockerBackend (issue 19): a runner from the stock runner image
 * (`deno task runner-image`: the runner only, no app code, no tests) runs a
 * module that exists only in a temporary directory on the parent's disk, with
 * a second local module and an npm package (fetched from the npm registry
 * into the parent's cache by the build). Nothing is left behind.
 */

import assert from "node:assert/strict";
import { DockerBackend, Pool } from "../../mod.ts";
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
      await pool.close();
      await Deno.remove(dir, { recursive: true });
      await waitForAsync(async () => (await containersOfPool(name)).length === 0, 10_000);
      const left = await containersOfPool(name);
      if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
      assert.deepEqual(left, [], "containers left behind");
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
