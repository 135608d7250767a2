/**
 * The examples run as documented (on runner subprocesses, so they work
 * without Docker; the Docker paths are covered by tests/e2e).
 */

import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

async function runExample(path: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${root}${path}`],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("examples/demo.ts runs a pool, shows growth, streaming and shrink, and exits cleanly", async () => {
  const { code, stdout, stderr } = await runExample("examples/demo.ts", {
    FLAME_DEMO_BACKEND: "process",
  });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /backend: process/);
  assert.match(stdout, /20 \+ 22 = 42/);
  assert.match(stdout, /tick 3\/3/);
  assert.match(stdout, /leaves the pool \(idle\)/);
  assert.match(stdout, /done/);
});

Deno.test("examples/thumbnail/main.ts makes PNG thumbnails on runners and streams sizes", async () => {
  const { code, stdout, stderr } = await runExample("examples/thumbnail/main.ts");
  assert.equal(code, 0, stderr);
  assert.match(stdout, /thumbnail 128×96: \d+ bytes of PNG, made on thumbs-/);
  assert.equal(stdout.match(/streamed: /g)?.length, 4);
});
