/**
 * Runs tests/node/remote_engine.test.mjs with Node.js against the Node bundle
 * of src/docker/mod.ts, for the TLS and ssh tests' Node.js steps.
 */

import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

async function nodeMajor(): Promise<number> {
  try {
    const out = await new Deno.Command("node", { args: ["--version"], stdout: "piped" }).output();
    return Number(new TextDecoder().decode(out.stdout).trim().replace(/^v/, "").split(".")[0]);
  } catch {
    return 0;
  }
}

/** Whether Node.js ≥ 20 is on `PATH` (as tests/integration/node_test.ts needs). */
export const nodeAvailable: boolean = await nodeMajor() >= 20;

/** How long the Node.js run may take. */
const NODE_TIMEOUT = 60_000;

/**
 * Bundles src/docker/mod.ts for Node, runs the remote-engine Node test file
 * with `env`, and asserts `passed` tests passed and none failed.
 */
export async function runNodeRemoteTest(
  env: Record<string, string>,
  passed: number,
): Promise<void> {
  const dir = `${root}.build/node`;
  await Deno.mkdir(dir, { recursive: true });
  const bundle = `${dir}/flame-remote-${crypto.randomUUID().slice(0, 8)}.mjs`;
  try {
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "node", "-o", bundle, `${root}src/docker/mod.ts`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(built.success, new TextDecoder().decode(built.stderr));
    const out = await new Deno.Command("node", {
      args: ["--test", "--test-reporter=spec", `${root}tests/node/remote_engine.test.mjs`],
      env: { FLAME_DOCKER_BUNDLE: bundle, ...env },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(NODE_TIMEOUT),
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(out.success, text);
    assert.match(text, /(ℹ|#) fail 0/, text);
    assert.match(text, new RegExp(`(ℹ|#) pass ${passed}\\b`), text);
  } finally {
    await Deno.remove(bundle).catch(() => {});
  }
}
