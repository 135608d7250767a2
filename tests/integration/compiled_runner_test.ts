/**
 * The compiled runner (`deno compile runner.ts`, the production image's CMD),
 * tested wherever `deno compile` works: it must download the runtime it
 * embeds, so on an offline machine this test is reported as ignored, with the
 * reason in its name — never passed silently.
 */

import assert from "node:assert/strict";
import { DockerBackend, Pool } from "../../mod.ts";
import {
  docker,
  dockerAvailable,
  ensureTestImage,
  TEST_IMAGE,
  TEST_LABEL,
} from "../_helpers/docker.ts";

const root = new URL("../../", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "flame-compile-" });
const binary = `${dir}/flame-runner`;

/** Compiles runner.ts; returns why it cannot, or `undefined` when it worked. */
async function probeCompile(): Promise<string | undefined> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["compile", "--allow-all", "--output", binary, `${root}runner.ts`],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output().catch((err) => ({ success: false, stderr: new TextEncoder().encode(String(err)) }));
  if (out.success) return undefined;
  const lines = new TextDecoder().decode(out.stderr).split("\n").map((l) => l.trim());
  const why = lines.find((l) => /^error:/i.test(l)) ?? "unknown failure";
  const detail = lines.findLast((l) => /dns|lookup|connect|network|timed out/i.test(l));
  return `${why}${detail ? ` (${detail.replace(/^\d+:\s*/, "")})` : ""}`.slice(0, 200);
}

const cannotCompile = await probeCompile();
if (cannotCompile !== undefined) await Deno.remove(dir, { recursive: true });
const reason = cannotCompile ?? (dockerAvailable ? undefined : "no Docker engine");

Deno.test({
  name: reason === undefined
    ? "the compiled runner binary serves a DockerBackend pool as the image's CMD"
    : `the compiled runner binary serves a pool (skipped: deno compile unavailable here: ${reason})`,
  ignore: reason !== undefined,
  fn: async () => {
    const tag = `flame-docker-compiled:test-${crypto.randomUUID().slice(0, 8)}`;
    const network = `flame-compiled-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await ensureTestImage();
      await Deno.writeTextFile(
        `${dir}/Dockerfile`,
        `FROM ${TEST_IMAGE}\nCOPY flame-runner /usr/local/bin/flame-runner\nCMD ["/usr/local/bin/flame-runner"]\n`,
      );
      const built = await new Deno.Command("docker", {
        args: ["build", "-q", "-t", tag, dir],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(built.success, new TextDecoder().decode(built.stderr));
      await docker("network", "create", "--internal", "--label", TEST_LABEL, network);
      await using pool = new Pool({
        backend: new DockerBackend({ image: tag, network }),
        max: 1,
        name: "t-compiled",
      });
      assert.equal(await pool.call((a: number, b: number) => a * b, [6, 7]), 42);
    } finally {
      await docker("network", "rm", network).catch(() => {});
      await docker("rmi", "-f", tag).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
