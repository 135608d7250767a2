/**
 * The compose example (examples/compose), brought up with the real engine:
 * with `docker compose` where it is installed, otherwise the same topology
 * with plain `docker run` (a parent container named on an internal network,
 * the socket mounted, the image's CMD as the runner).
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

const root = new URL("../../", import.meta.url).pathname;
const composeFile = `${root}examples/compose/compose.yaml`;

async function composeAvailable(): Promise<boolean> {
  try {
    await docker("compose", "version");
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "the compose example runs: the app container makes thumbnails on runner containers",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await ensureTestImage();
    const suffix = crypto.randomUUID().slice(0, 8);
    const network = `flame-compose-${suffix}`;
    const app = `flame-app-${suffix}`;
    const project = `flame-compose-${suffix}`;
    const useCompose = await composeAvailable();
    const env = { FLAME_IMAGE: TEST_IMAGE, FLAME_NETWORK: network, FLAME_APP_NAME: app };
    try {
      let logs: string;
      if (useCompose) {
        const out = await new Deno.Command("docker", {
          args: ["compose", "-f", composeFile, "-p", project, "up", "--abort-on-container-exit"],
          env,
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        logs = await docker("logs", app);
      } else {
        console.log("  docker compose is not installed: same topology with docker run");
        await docker("network", "create", "--internal", "--label", TEST_LABEL, network);
        await docker(
          "run",
          "-d",
          "--name",
          app,
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
          "examples/compose/app.ts",
        );
        const code = await docker("wait", app);
        logs = await docker("logs", app);
        assert.equal(code, "0", logs);
      }
      const summary = JSON.parse(logs.split("\n").filter((l) => l.startsWith("{")).pop()!);
      assert.equal(summary.results.length, 4);
      for (const r of summary.results) {
        assert.equal(r.width, 96);
        assert.ok(r.bytes > 100);
        assert.match(r.runner, /^thumbs-/);
      }
      assert.ok(summary.stats.boots >= 1 && summary.stats.boots <= 2);
      const left = await docker(
        "ps",
        "-aq",
        "--filter",
        `label=${LABEL_PROJECT}`,
        "--filter",
        `network=${network}`,
      );
      assert.equal(left, "", "runner containers left behind");
    } finally {
      if (useCompose) {
        await new Deno.Command("docker", {
          args: ["compose", "-f", composeFile, "-p", project, "down", "--remove-orphans"],
          env,
          stdout: "null",
          stderr: "null",
        }).output();
      }
      await docker("rm", "-f", app).catch(() => {});
      const left = await docker("ps", "-aq", "--filter", `network=${network}`).catch(() => "");
      if (left !== "") await docker("rm", "-f", ...left.split("\n")).catch(() => {});
      await docker("network", "rm", network).catch(() => {});
    }
  },
});
