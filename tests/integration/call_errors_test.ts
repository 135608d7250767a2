/**
 * A call aborted by its signal rejects with the library's own classes, so a
 * caller can test it with `instanceof`: `TimeoutError` when the signal timed
 * out (`AbortSignal.timeout()`), `AbortError` for any other reason; the
 * signal's reason is the `cause`.
 */

import assert from "node:assert/strict";
import { AbortError, type CallContext, LocalBackend, Pool, TimeoutError } from "../../mod.ts";

/** Runs until its signal aborts, then writes `marker` (if given): the runner saw the abort. */
function untilAborted(this: CallContext, marker: string): Promise<never> {
  return new Promise((_, reject) => {
    this.signal.addEventListener("abort", () => {
      if (marker !== "") Deno.writeTextFileSync(marker, "aborted");
      reject(this.signal.reason);
    });
  });
}

async function runnerSawAbort(marker: string): Promise<boolean> {
  for (let i = 0; i < 300; i++) {
    if (await Deno.stat(marker).then(() => true, () => false)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

/** A temporary file path (not created) removed at the end of the scope. */
async function markerPath(): Promise<AsyncDisposable & { path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "flame-abort-" });
  return {
    path: `${dir}/seen`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("a call whose AbortSignal.timeout() fires rejects with the library's TimeoutError", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  // A warm runner: the call reaches a call worker before its signal fires.
  await pool.call(() => 0);
  await using marker = await markerPath();
  const err = await pool.call(untilAborted, [marker.path], { signal: AbortSignal.timeout(50) })
    .catch((e) => e);
  assert.ok(err instanceof TimeoutError, String(err));
  assert.ok(err.cause instanceof DOMException);
  assert.equal(err.cause.name, "TimeoutError");
  assert.match(err.message, /^Call timed out: its signal aborted with TimeoutError/);
  assert.ok(await runnerSawAbort(marker.path), "the runner saw the abort");
  assert.equal(pool.stats().busySlots, 0);
});

Deno.test("a call aborted by its signal rejects with AbortError, the reason as cause", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  // A warm runner: the call reaches a call worker before its signal fires.
  await pool.call(() => 0);
  await using marker = await markerPath();
  const controller = new AbortController();
  const call = pool.call(untilAborted, [marker.path], { signal: controller.signal });
  await new Promise((r) => setTimeout(r, 20));
  controller.abort("user left");
  const err = await call.catch((e) => e);
  assert.ok(err instanceof AbortError, String(err));
  assert.equal(err.name, "AbortError");
  assert.equal(err.cause, "user left");
  assert.equal(err.message, 'Call aborted: its signal aborted with "user left"');
  assert.ok(await runnerSawAbort(marker.path), "the runner saw the abort");

  // The default reason (a DOMException named AbortError) is the cause too.
  const plain = new AbortController();
  const second = pool.call(untilAborted, [""], { signal: plain.signal });
  plain.abort();
  const err2 = await second.catch((e) => e);
  assert.ok(err2 instanceof AbortError);
  assert.ok(err2.cause instanceof DOMException && err2.cause.name === "AbortError");
});

Deno.test("a signal aborted before the call, or while it waits in the queue, gives AbortError", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1, maxConcurrency: 1 });
  const before = await pool.call(() => 1, [], { signal: AbortSignal.abort(new Error("Too late")) })
    .catch((e) => e);
  assert.ok(before instanceof AbortError);
  assert.equal((before.cause as Error).message, "Too late");
  assert.equal(pool.stats().boots, 0);

  const busy = pool.call(() => new Promise((r) => setTimeout(() => r("busy"), 200)));
  const queued = pool.call(() => "never", [], { signal: AbortSignal.timeout(30) })
    .catch((e) => e);
  assert.ok(await queued instanceof TimeoutError);
  assert.equal(await busy, "busy");
});

Deno.test("a reason that is already AbortError or TimeoutError is the rejection itself", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  const mine = new TimeoutError("Gave up after my own deadline");
  const controller = new AbortController();
  const call = pool.call(untilAborted, [""], { signal: controller.signal });
  controller.abort(mine);
  assert.equal(await call.catch((e) => e), mine);
});

Deno.test("an aborted stream ends its for await loop with AbortError", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  const controller = new AbortController();
  const seen: number[] = [];
  const err = await (async () => {
    for await (
      const n of pool.call(
        async function* () {
          // Bounded: if the abort were ignored, the loop would end and the test
          // fail. Stream credit keeps it at most a window ahead of the consumer.
          for (let i = 0; i < 200; i++) yield i;
        },
        [],
        { signal: controller.signal },
      )
    ) {
      seen.push(n);
      if (n === 2) controller.abort("enough");
    }
  })().catch((e) => e);
  assert.ok(err instanceof AbortError, String(err));
  assert.equal(err.cause, "enough");
  assert.ok(seen.length >= 3 && seen.length < 200, `saw ${seen.length} values`);
  assert.equal(pool.stats().busySlots, 0);
});

Deno.test("a stopped child task's done rejects with AbortError", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  const child = await pool.placeChild(untilAborted, [""]);
  await child.stop();
  const err = await child.done.catch((e) => e);
  assert.ok(err instanceof AbortError, String(err));
  assert.match(err.message, /stopped/);
});

Deno.test("a shipped function using an import is told to use pool.module()", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  const err = await pool.call(() => new AbortError("not on the runner")).catch((e) => e);
  assert.equal(err.remoteName, "ReferenceError");
  assert.match(err.message, /AbortError is not defined/);
  assert.match(err.message, /variables or imports from outer scopes/);
  assert.match(err.message, /pool\.module\(\)/);
});
