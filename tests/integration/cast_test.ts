/**
 * `cast()` failures are never silent: with nobody listening they reach
 * stderr (without ending the process), and every failure counts in
 * `stats().callsFailed`, including an argument that cannot be sent.
 */

import assert from "node:assert/strict";
import { DataCloneError, LocalBackend, Pool } from "../../mod.ts";

const fixture = new URL("../fixtures/cast_parent.ts", import.meta.url).pathname;

Deno.test("a failed cast with no onCastError and no logger is reported on stderr", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fixture],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(stdout.trim(), "[1,1,1]");
  assert.match(stderr, /pool bare: cast failed[^\n]*\n?.*Cannot notify bare/);
  assert.doesNotMatch(stderr, /Cannot notify logged/);
  assert.match(stderr, /pool hook: cast failed/);
  assert.match(stderr, /Cannot notify hook/);
  assert.match(stderr, /onCastError threw/);
  assert.match(stderr, /Hook broke/);
});

Deno.test("a cast whose argument cannot be sent counts as failed and reaches onCastError", async () => {
  const failed = Promise.withResolvers<unknown>();
  await using pool = new Pool({ backend: new LocalBackend(), max: 1, onCastError: failed.resolve });
  pool.cast((f: unknown) => typeof f, [() => "a function cannot cross"]);
  assert.ok(await failed.promise instanceof DataCloneError);
  assert.equal(pool.stats().callsFailed, 1);
  assert.equal(pool.stats().boots, 0);
});

Deno.test("a call refused before sending counts as failed", async () => {
  const pool = new Pool({ backend: new LocalBackend(), max: 1 });
  await assert.rejects(pool.call((f: unknown) => f, [Symbol("no")]), DataCloneError);
  // @ts-expect-error args must be an array
  await assert.rejects(pool.call((n: number) => n, 1), TypeError);
  const aborted = AbortSignal.abort();
  await assert.rejects(pool.call(() => 1, [], { signal: aborted }));
  await pool.close();
  await assert.rejects(pool.call(() => 1));
  assert.deepEqual(
    { callsOk: pool.stats().callsOk, callsFailed: pool.stats().callsFailed },
    { callsOk: 0, callsFailed: 4 },
  );
});
