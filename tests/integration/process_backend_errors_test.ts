/**
 * ProcessBackend says why a runner cannot start: which Deno it looked for and
 * where, which runner script is missing, and what an exit code 127 means.
 * (The Node.js side, where the Deno comes from the `deno` npm package, is in
 * npm_package_test.ts.)
 */

import assert from "node:assert/strict";
import { BootError, Pool, ProcessBackend } from "../../mod.ts";

async function bootFailure(backend: ProcessBackend): Promise<BootError> {
  await using pool = new Pool({ name: "errors", backend, max: 1, bootTimeout: 10_000 });
  const error = await pool.call(() => 1).then(
    () => assert.fail("the call should have failed"),
    (e) => e,
  );
  assert.ok(error instanceof BootError, String(error));
  return error;
}

Deno.test("ProcessBackend names the runner script that does not exist", async () => {
  const error = await bootFailure(new ProcessBackend({ runner: "/nonexistent/flame/runner.ts" }));
  assert.match(
    error.message,
    /the runner script "\/nonexistent\/flame\/runner\.ts" does not exist \(ProcessBackend option "runner"\)/,
  );
});

Deno.test("ProcessBackend resolves a relative runner path against its cwd and names both", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flame-process-" });
  try {
    const error = await bootFailure(new ProcessBackend({ runner: "runner.ts", cwd: dir }));
    assert.ok(
      error.message.includes(
        `"runner.ts" does not exist (ProcessBackend option "runner", relative to ${dir})`,
      ),
      error.message,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ProcessBackend names a Deno executable that does not exist, and how to fix it", async () => {
  const error = await bootFailure(new ProcessBackend({ deno: "/nonexistent/bin/deno" }));
  assert.match(error.message, /no Deno executable found for ProcessBackend option "deno"/);
  assert.match(error.message, /no such file "\/nonexistent\/bin\/deno"/);
  assert.match(error.message, /give the path of a Deno executable/);
});

Deno.test("ProcessBackend looks a bare Deno name up on PATH and says where it looked", async () => {
  const error = await bootFailure(new ProcessBackend({ deno: "no-such-deno-9f3a" }));
  assert.match(error.message, /no "no-such-deno-9f3a" in PATH \(/);
});

Deno.test("ProcessBackend explains exit code 127 instead of reporting it raw", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flame-process-" });
  try {
    const wrapper = `${dir}/deno-wrapper`;
    await Deno.writeTextFile(wrapper, '#!/bin/sh\nexec no-such-interpreter-9f3a "$@"\n');
    await Deno.chmod(wrapper, 0o755);
    const error = await bootFailure(new ProcessBackend({ deno: wrapper }));
    assert.match(
      error.message,
      /it exited before connecting \(exit code 127: a command was not found/,
    );
    assert.match(error.message, /no-such-interpreter-9f3a/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
