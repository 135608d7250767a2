/**
 * The parent side on Node.js: bundles mod.ts for Node with `deno bundle`,
 * then runs tests/node/pool.test.mjs with `node --test` — a real pool with
 * Deno runner subprocesses and, when an engine answers, runner containers.
 */

import assert from "node:assert/strict";
import { LABEL_PROJECT } from "../../src/backends/docker/labels.ts";
import {
  docker,
  dockerAvailable,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
  TEST_LABEL,
} from "../_helpers/docker.ts";

const root = new URL("../../", import.meta.url).pathname;

async function nodeMajor(): Promise<number> {
  try {
    const out = await new Deno.Command("node", { args: ["--version"], stdout: "piped" }).output();
    return Number(new TextDecoder().decode(out.stdout).trim().replace(/^v/, "").split(".")[0]);
  } catch {
    return 0;
  }
}

const major = await nodeMajor();

Deno.test({
  name: "the parent side runs on Node.js ≥ 20 (bundle + node --test)",
  ignore: major < 20,
  fn: async () => {
    const dir = `${root}.build/node`;
    await Deno.mkdir(dir, { recursive: true });
    const bundle = `${dir}/flame-${crypto.randomUUID().slice(0, 8)}.mjs`;
    const dockerBundle = bundle.replace(/\.mjs$/, "-docker.mjs");
    const useDocker = dockerAvailable || !ignoreWithoutDocker;
    const network = `flame-node-${crypto.randomUUID().slice(0, 8)}`;
    try {
      for (const [out, entry] of [[bundle, "mod.ts"], [dockerBundle, "src/docker/mod.ts"]]) {
        const built = await new Deno.Command(Deno.execPath(), {
          args: ["bundle", "--quiet", "--platform", "node", "-o", out!, `${root}${entry}`],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(built.success, new TextDecoder().decode(built.stderr));
      }
      if (useDocker) {
        await ensureTestImage();
        await docker("network", "create", "--internal", "--label", TEST_LABEL, network);
      }
      const out = await new Deno.Command("node", {
        args: ["--test", "--test-reporter=spec", `${root}tests/node/pool.test.mjs`],
        env: {
          FLAME_BUNDLE: bundle,
          FLAME_DOCKER_BUNDLE: dockerBundle,
          FLAME_RUNNER: `${root}runner.ts`,
          DENO_BIN: Deno.execPath(),
          ...(useDocker ? { FLAME_NETWORK: network, FLAME_IMAGE: TEST_IMAGE } : {}),
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      console.log(
        text.split("\n").filter((l) => /^[✔✖]|^ℹ (pass|fail|skipped)/.test(l.trim())).join("\n"),
      );
      assert.ok(out.success, text);
      assert.match(text, /(ℹ|#) fail 0/);
      assert.match(text, useDocker ? /(ℹ|#) pass 4/ : /(ℹ|#) pass 2/);
    } finally {
      await Deno.remove(bundle).catch(() => {});
      await Deno.remove(dockerBundle).catch(() => {});
      if (useDocker) {
        const left = await docker(
          "ps",
          "-aq",
          "--filter",
          `label=${LABEL_PROJECT}`,
          "--filter",
          `network=${network}`,
        )
          .catch(() => "");
        if (left !== "") await docker("rm", "-f", ...left.split("\n")).catch(() => {});
        await docker("network", "rm", network).catch(() => {});
      }
    }
  },
});
