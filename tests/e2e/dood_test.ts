/**
 * Docker-out-of-Docker, the deployment the project exists for: the parent
 * runs inside a container with /var/run/docker.sock mounted and a stable
 * --name on a user-defined network; it boots runner containers on that
 * network, which reach it by its container name. Everything is removed.
 */

import assert from "node:assert/strict";
import { LABEL_PROJECT } from "../../mod.ts";
import {
  docker,
  DOCKER_SOCKET,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
  TEST_LABEL,
} from "../_helpers/docker.ts";

Deno.test({
  name: "Docker-out-of-Docker: a parent in a container boots runners on its network",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await ensureTestImage();
    const suffix = crypto.randomUUID().slice(0, 8);
    const network = `flame-e2e-${suffix}`;
    const parent = `flame-e2e-parent-${suffix}`;
    await docker("network", "create", "--internal", "--label", TEST_LABEL, network);
    try {
      const script = new URL("./dood_parent.ts", import.meta.url).pathname;
      await docker(
        "run",
        "-d",
        "--name",
        parent,
        "--label",
        TEST_LABEL,
        "--network",
        network,
        "-v",
        `${DOCKER_SOCKET}:/var/run/docker.sock`,
        TEST_IMAGE,
        "/usr/local/bin/deno",
        "run",
        "--allow-all",
        script,
      );
      const code = await docker("wait", parent);
      const logs = await docker("logs", parent);
      assert.equal(code, "0", `parent failed:\n${logs}`);
      const result = JSON.parse(logs.split("\n").filter((l) => l.startsWith("{")).pop()!);
      assert.equal(result.sum, 42);
      assert.deepEqual(result.streamed, [0, 1, 2, 3, 4]);
      assert.equal(result.stats.boots, 2);
      const prefix = new RegExp(`^${parent}-flame-[0-9a-f]{20}$`);
      for (const h of result.hostnames) assert.match(h, prefix);
      assert.equal(new Set(result.hostnames).size, 2);
      const left = await docker(
        "ps",
        "-a",
        "-q",
        "--filter",
        `label=${LABEL_PROJECT}`,
        "--filter",
        `network=${network}`,
      );
      assert.equal(left, "", "runner containers left behind");
    } finally {
      await docker("rm", "-f", parent).catch(() => {});
      const left = await docker("ps", "-a", "-q", "--filter", `network=${network}`).catch(() => "");
      if (left !== "") await docker("rm", "-f", ...left.split("\n")).catch(() => {});
      await docker("network", "rm", network);
    }
  },
});
