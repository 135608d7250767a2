/**
 * The types of `pool.call()` and friends match what crosses the wire.
 * `deno check` (in `deno task check`) verifies the `@ts-expect-error` lines:
 * each must be an error, or the check fails. The tests run the same calls,
 * so the types and the behaviour are checked against each other.
 */

import assert from "node:assert/strict";
import { type CallContext, DataCloneError, LocalBackend, Pool, RemoteError } from "../../mod.ts";

/** Compile-time equality: `true` only when `A` and `B` are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
/** Fails to compile unless `T` is `true`. */
function expectType<T extends true>(_ok: T): void {}

Deno.test("call() of an async generator function is async iterable (for await, no await)", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  const seen: number[] = [];
  for await (
    const n of pool.call(async function* (to: number) {
      for (let i = 1; i <= to; i++) yield i;
    }, [3])
  ) {
    expectType<Equal<typeof n, number>>(true);
    seen.push(n);
  }
  assert.deepEqual(seen, [1, 2, 3]);
  // Awaiting it still gives the stream.
  const stream = await pool.call(async function* () {
    yield "a";
  });
  expectType<Equal<typeof stream, AsyncIterable<string>>>(true);
  const again: string[] = [];
  for await (const s of stream) again.push(s);
  assert.deepEqual(again, ["a"]);
});

Deno.test("breaking out of for await over a call stops the remote generator", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  for await (
    const n of pool.call(async function* () {
      for (let i = 0;; i++) yield i;
    })
  ) {
    if (n === 2) break;
  }
  assert.equal(pool.stats().busySlots, 0);
});

Deno.test("a plain call is a promise of its awaited value, not iterable", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  const p = pool.call((a: number) => Promise.resolve({ doubled: a * 2 }), [2]);
  expectType<Equal<typeof p, Promise<{ doubled: number }>>>(true);
  assert.deepEqual(await p, { doubled: 4 });
  assert.equal(Symbol.asyncIterator in p, false);
  const thrower = pool.call((): never => {
    throw new Error("No");
  });
  expectType<Equal<typeof thrower, Promise<never>>>(true);
  await assert.rejects(thrower, RemoteError);
  // A function typed `any` gives an `unknown` result, as before: not an iterable.
  // deno-lint-ignore no-explicit-any
  const anyFn: any = () => 1;
  const untyped = pool.call(anyFn);
  expectType<Equal<typeof untyped, Promise<unknown>>>(true);
  assert.equal(await untyped, 1);
});

Deno.test("a function returning a function is a type error, and fails at run time", async () => {
  const castFailed = Promise.withResolvers<unknown>();
  await using pool = new Pool({
    backend: new LocalBackend(),
    max: 1,
    onCastError: castFailed.resolve,
  });
  // @ts-expect-error A function cannot be returned: it cannot cross the wire
  const call = pool.call(() => () => 1);
  await assert.rejects(call, RemoteError);
  await assert.rejects(
    // @ts-expect-error The same for an async function resolving to a function
    pool.call(() => Promise.resolve((x: number) => x)),
    (e: unknown) => e instanceof RemoteError && e.remoteName === "DataCloneError",
  );
  // @ts-expect-error And for cast and placeChild
  pool.cast(() => () => 1);
  assert.ok(await castFailed.promise instanceof RemoteError);
  // @ts-expect-error placeChild too
  await pool.placeChild(() => () => 1).then((c) => c.done).catch(() => {});
});

Deno.test("arguments are typed from the function's parameters", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  assert.equal(await pool.call((a: number, b: string) => b.repeat(a), [2, "x"]), "xx");
  // @ts-expect-error the arguments do not match the parameters
  await pool.call((a: number) => a, ["not a number"]).catch(() => {});
  // `this` is the call context.
  const id = await pool.call(function (this: CallContext) {
    return this.runnerId;
  });
  expectType<Equal<typeof id, string>>(true);
  assert.match(id, /^flame-/);
  // An argument that cannot cross is refused before anything is sent.
  await assert.rejects(
    pool.call((f: unknown) => typeof f, [() => 1]),
    DataCloneError,
  );
});
