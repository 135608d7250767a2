/**
 * The compose example (examples/compose), brought up with the real engine:
 * with `docker compose` where it is installed, otherwise the same topology
 * with plain `docker run` (a parent container named on an internal network,
 * the socket mounted, the image's CMD as the runner).
 */

import assert from "node:assert/strict";
import {
  docker,
  ensureTestImage,
  ignoreWithoutDocker,
  parentOutcome,
  runParentContainer,
  TEST_IMAGE,
  TestNetwork,
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
    const useCompose = await composeAvailable();
    // With compose, compose creates the network; otherwise the test does.
    const network = useCompose ? undefined : await TestNetwork.create("compose");
    const suffix = crypto.randomUUID().slice(0, 8);
    const networkName = network?.name ?? `flame-compose-${suffix}`;
    const app = `${networkName}-app`;
    const project = `flame-compose-${suffix}`;
    const env = { FLAME_IMAGE: TEST_IMAGE, FLAME_NETWORK: networkName, FLAME_APP_NAME: app };
    const compose = (...args: string[]) =>
      new Deno.Command("docker", {
        args: ["compose", "-f", composeFile, "-p", project, ...args],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
    try {
      if (useCompose) {
        const up = await compose("up", "--abort-on-container-exit");
        assert.ok(up.success, new TextDecoder().decode(up.stderr));
      } else {
        console.log("  docker compose is not installed: same topology with docker run");
        await runParentContainer(app, networkName, [
          "/usr/local/bin/deno",
          "run",
          "--allow-all",
          "examples/compose/app.ts",
        ]);
      }
      const { code, logs, result } = await parentOutcome(app);
      assert.equal(code, "0", logs);
      assert.ok(result, logs);
      const results = result.results as { width: number; bytes: number; runner: string }[];
      assert.equal(results.length, 4);
      for (const r of results) {
        assert.equal(r.width, 96);
        assert.ok(r.bytes > 100);
        assert.match(r.runner, /^thumbs-/);
      }
      const boots = (result.stats as { boots: number }).boots;
      assert.ok(boots >= 1 && boots <= 2, `boots: ${boots}`);
      assert.deepEqual(
        await TestNetwork.of(networkName).containers(true),
        [],
        "runner containers left behind",
      );
    } finally {
      if (useCompose) await compose("down", "--remove-orphans");
      await docker("rm", "-f", app).catch(() => {});
      await network?.remove();
    }
  },
});
