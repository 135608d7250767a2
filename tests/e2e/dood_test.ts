/**
 * Docker-out-of-Docker, the deployment the project exists for: the parent
 * runs inside a container with /var/run/docker.sock mounted and a stable
 * --name on a user-defined network; it boots runner containers on that
 * network, which reach it by its container name. Everything is removed.
 */

import assert from "node:assert/strict";
import {
  ensureTestImage,
  ignoreWithoutDocker,
  parentOutcome,
  runParentContainer,
  TestNetwork,
} from "../_helpers/docker.ts";

Deno.test({
  name: "Docker-out-of-Docker: a parent in a container boots runners on its network",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await ensureTestImage();
    const network = await TestNetwork.create("e2e");
    const parent = `${network.name}-parent`;
    try {
      const script = new URL("./dood_parent.ts", import.meta.url).pathname;
      await runParentContainer(parent, network.name, [
        "/usr/local/bin/deno",
        "run",
        "--allow-all",
        script,
      ]);
      const { code, logs, result } = await parentOutcome(parent);
      assert.equal(code, "0", `parent failed:\n${logs}`);
      assert.ok(result, logs);
      assert.equal(result.sum, 42);
      assert.deepEqual(result.streamed, [0, 1, 2, 3, 4]);
      assert.equal((result.stats as { boots: number }).boots, 2);
      const hostnames = result.hostnames as string[];
      for (const h of hostnames) assert.match(h, new RegExp(`^${parent}-flame-[0-9a-f]{20}$`));
      assert.equal(new Set(hostnames).size, 2);
      assert.deepEqual(await network.containers(true), [], "runner containers left behind");
    } finally {
      await network.remove();
    }
  },
});
