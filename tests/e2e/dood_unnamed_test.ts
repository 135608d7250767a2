/**
 * Docker-out-of-Docker with a parent container started without `--name`:
 * the engine's DNS does not serve its generated name (`upbeat_bhabha`), so
 * runners dial its address on the network; `doctor` in such a container
 * tests that same address. Every container is removed by id, then the network.
 */

import assert from "node:assert/strict";
import {
  docker,
  ensureTestImage,
  ignoreWithoutDocker,
  parentOutcome,
  runParentContainer,
  TestNetwork,
} from "../_helpers/docker.ts";

const root = new URL("../../", import.meta.url).pathname;
const deno = ["/usr/local/bin/deno", "run", "--allow-all"];

Deno.test({
  name: "Docker-out-of-Docker: a parent container without --name boots runners that reach it",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await ensureTestImage();
    const network = await TestNetwork.create("unnamed");
    const ids: string[] = [];
    try {
      const parent = await runParentContainer("", network.name, [
        ...deno,
        `${root}tests/e2e/dood_parent.ts`,
      ], { unnamed: true });
      ids.push(parent);
      const name = (await docker("inspect", "--format", "{{.Name}}", parent)).replace(/^\//, "");
      const { code, logs, result } = await parentOutcome(parent);
      assert.equal(code, "0", `parent "${name}" failed:\n${logs}`);
      assert.ok(result, logs);
      assert.equal(result.sum, 42);
      assert.deepEqual(result.streamed, [0, 1, 2, 3, 4]);
      assert.deepEqual(await network.containers(true), [], "runner containers left behind");

      const doctor = await runParentContainer("", network.name, [
        ...deno,
        `${root}cli.ts`,
        "doctor",
      ], {
        unnamed: true,
      });
      ids.push(doctor);
      const checked = await parentOutcome(doctor, 60_000);
      assert.equal(checked.code, "0", checked.logs);
      assert.match(
        checked.logs,
        new RegExp(
          `✓ parent reachable: runners dial this container at \\d+\\.\\d+\\.\\d+\\.\\d+, its address on "${network.name}"`,
        ),
      );
    } finally {
      for (const id of ids) await docker("rm", "-f", id).catch(() => {});
      await network.remove();
    }
  },
});
