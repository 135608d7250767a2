/**
 * Pool semantics as test bodies, run against every backend (Local, Process, Docker).
 */

import assert from "node:assert/strict";
import {
  BootError,
  type CallContext,
  DataCloneError,
  Pool,
  PoolClosedError,
  type PoolOptions,
  RemoteError,
  RunnerExitedError,
  TimeoutError,
} from "../../mod.ts";
import { type BackendCase, FlakyBackend, sleep, waitFor, waitForAsync } from "./backends.ts";
import type * as Jobs from "../fixtures/jobs.ts";

const JOBS = import.meta.resolve("../fixtures/jobs.ts");

/** A backend case plus how to run it. */
export interface SuiteCase extends BackendCase {
  /** Skip every test (shown as ignored). */
  ignore?: boolean;
  /** Runs after each test, pass or fail (e.g. assert nothing was left behind). */
  after?: () => Promise<void>;
  /**
   * Registers each test instead of `Deno.test`, such as a step of one test
   * that owns a resource too costly to make per test (a swarm); `ignore` is
   * then the caller's.
   */
  define?: (name: string, fn: () => Promise<void>) => void;
}

/**
 * Defines every pool-semantics test for one backend.
 *
 * @param c The backend case; `ignore` skips (shown as ignored), `after` runs after each test body.
 */
export function definePoolSuite(c: SuiteCase): void {
  const { kind, make } = c;
  const test = (name: string, fn: () => Promise<void>) => {
    const body = async () => {
      try {
        await fn();
      } finally {
        await c.after?.();
      }
    };
    if (c.define !== undefined) c.define(name, body);
    else Deno.test({ name, ignore: c.ignore ?? false, fn: body });
  };
  const pool = (options: Omit<PoolOptions, "backend"> & Partial<Pick<PoolOptions, "backend">>) =>
    new Pool({ backend: make(), name: `t-${kind}`, ...options });

  test(`[${kind}] Pool.call() returns the result and round-trips rich values`, async () => {
    await using p = pool({ max: 1 });
    assert.equal(await p.call((a: number, b: number) => a + b, [1, 2]), 3);
    const input = {
      bytes: new Uint8Array([1, 2, 3]),
      map: new Map<string, unknown>([["k", new Set([1n, 2n])]]),
      date: new Date(0),
      re: /x+/gi,
      nested: [undefined, null, -0, NaN, "é"],
    };
    const out = await p.call((v: typeof input) => v, [input]);
    assert.deepEqual(out, input);
    assert.ok(Object.is((out.nested as unknown[])[2], -0));
    const stats = p.stats();
    assert.equal(stats.callsOk, 2);
    assert.equal(stats.runners, 1);
  });

  test(`[${kind}] the first call of a cold pool may carry a large argument`, async () => {
    // It is sent the moment the runner is welcomed: the runner must take it even
    // though it arrives with the handshake's last frame.
    await using p = pool({ max: 2 });
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    const sums = await Promise.all(
      [1, 2, 3, 4].map(() => p.call((b: Uint8Array) => b.reduce((a, x) => a + x, 0), [big])),
    );
    const expected = big.reduce((a, x) => a + x, 0);
    assert.deepEqual(sums, [expected, expected, expected, expected]);
  });

  test(`[${kind}] a remote throw rejects with RemoteError carrying name, message, stack and cause`, async () => {
    await using p = pool({ max: 1 });
    const err = await p.call(() => {
      throw new RangeError("too big", { cause: new Error("root") });
    }).catch((e) => e);
    assert.ok(err instanceof RemoteError);
    assert.equal(err.remoteName, "RangeError");
    assert.equal(err.message, "too big");
    assert.match(err.remoteStack ?? "", /RangeError: too big/);
    assert.ok(err.cause instanceof RemoteError);
    assert.equal((err.cause as RemoteError).message, "root");
    assert.equal(p.stats().callsFailed, 1);
  });

  test(`[${kind}] a closure over an outer variable fails with a hint`, async () => {
    await using p = pool({ max: 1 });
    const outer = 41;
    const err = await p.call(() => outer + 1).catch((e) => e);
    assert.ok(err instanceof RemoteError);
    assert.equal(err.remoteName, "ReferenceError");
    assert.match(err.message, /outer scopes: pass data as arguments.*pool\.module\(\)/);
  });

  test(`[${kind}] bad functions and unclonable arguments fail before any boot`, async () => {
    await using p = pool({ max: 1 });
    const obj = {
      method(a: number) {
        return a;
      },
    };
    await assert.rejects(() => p.call(obj.method, [1]), TypeError);
    await assert.rejects(() => p.call(Math.max as () => number), /native and bound/);
    await assert.rejects(
      () => p.call((f: unknown) => f, [() => 1]),
      (e) => e instanceof DataCloneError && /args\[0\]/.test(e.message),
    );
    await assert.rejects(() => p.call((x: unknown) => x, [new (class Foo {})()]), DataCloneError);
    assert.equal(p.stats().boots, 0);
  });

  test(`[${kind}] a result that cannot cross the wire rejects naming it; the runner serves on`, async () => {
    await using p = pool({ max: 1 });
    for (
      const fn of [
        () => () => 1,
        () => Promise.resolve(() => 1),
        () => Symbol("s"),
        () => ({ nested: [1, new (class Foo {})()] }),
      ]
    ) {
      const err = await p.call(fn as () => unknown).catch((e) => e);
      assert.ok(err instanceof RemoteError, `${fn}: ${err}`);
      assert.equal(err.remoteName, "DataCloneError");
      assert.match(err.message, /^Cannot clone value at "result/);
    }
    // Common small results take a shared fast path both ways; so does -0's absence from it.
    const small = [undefined, null, true, false, 0, 7, 255, 256, -1, 1.5, -0, 123456789, 2 ** 40];
    for (const v of small) assert.ok(Object.is(await p.call((x: unknown) => x, [v]), v), `${v}`);
    assert.equal(p.stats().boots, 1);
  });

  test(`[${kind}] grows to max with parallel boots and never beyond`, async () => {
    const starts: string[] = [];
    await using p = pool({
      max: 3,
      maxConcurrency: 1,
      onGrowStart: (e) => starts.push(e.runnerId),
    });
    const ids = await Promise.all(
      Array.from({ length: 9 }, () =>
        p.call(async function (this: CallContext) {
          await new Promise((r) => setTimeout(r, 150));
          return this.runnerId;
        })),
    );
    assert.equal(starts.length, 3);
    assert.equal(new Set(ids).size, 3);
    assert.equal(p.stats().runners, 3);
  });

  test(`[${kind}] queued callers are served in FIFO order`, async () => {
    await using p = pool({ max: 1, maxConcurrency: 1 });
    await p.call(() => 0);
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        p.call(async (n: number) => {
          await new Promise((r) => setTimeout(r, 5));
          return n;
        }, [i]).then((n) => order.push(n))),
    );
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  test(`[${kind}] a queued call that times out or is aborted gives up its place`, async () => {
    await using p = pool({ max: 1, maxConcurrency: 1 });
    await p.call(() => 0);
    const busy = p.call(() => new Promise((r) => setTimeout(() => r("a"), 400)));
    const controller = new AbortController();
    const timedOut = p.call(() => "b", [], { timeout: 60 }).catch((e) => e);
    const aborted = p.call(() => "c", [], { signal: controller.signal }).catch((e) => e);
    const served = p.call(() => "d");
    assert.equal(p.stats().queued, 3);
    setTimeout(() => controller.abort(new Error("caller left")), 30);
    assert.ok((await timedOut) instanceof TimeoutError, "queued call timed out");
    assert.match(String((await aborted)?.message), /caller left/);
    // Both gave up while the runner was busy: only "d" still waits.
    assert.equal(p.stats().queued, 1);
    assert.equal(await busy, "a");
    assert.equal(await served, "d");
    assert.deepEqual([p.stats().queued, p.stats().busySlots], [0, 0]);
    // No slot leaked: the next call is served at once.
    assert.equal(await p.call(() => "e"), "e");
  });

  test(`[${kind}] maxConcurrency bounds the calls on one runner`, async () => {
    await using p = pool({ max: 1, maxConcurrency: 3 });
    // Counted at the pool (a runner's calls may run on several call workers, each its own
    // globalThis): the busy slots of the one runner, sampled at each call's start.
    let peak = 0;
    const runners = new Set<string>();
    await Promise.all(
      Array.from({ length: 10 }, () =>
        p.call(async function (this: CallContext) {
          await new Promise((r) => setTimeout(r, 30));
          return this.runnerId;
        }).then((id) => runners.add(id))),
    );
    const sample = setInterval(() => peak = Math.max(peak, p.stats().busySlots), 1);
    try {
      await Promise.all(
        Array.from({ length: 10 }, () => p.call(() => new Promise((r) => setTimeout(r, 30)))),
      );
    } finally {
      clearInterval(sample);
    }
    assert.equal(runners.size, 1);
    assert.equal(peak, 3);
    assert.equal(p.stats().queued, 0);
  });

  test(`[${kind}] idle runners above min are shut down`, async () => {
    const shrinks: string[] = [];
    await using p = pool({
      max: 2,
      idleShutdownAfter: 150,
      onShrink: (e) => shrinks.push(e.reason),
    });
    await p.call(() => 1);
    assert.equal(p.stats().runners, 1);
    assert.ok(await waitFor(() => p.stats().runners === 0, 5000));
    assert.deepEqual(shrinks, ["idle"]);
  });

  test(`[${kind}] min runners boot at start and are kept when idle`, async () => {
    await using p = pool({ min: 1, max: 2, idleShutdownAfter: 100 });
    assert.ok(await waitFor(() => p.stats().runners === 1, 10_000));
    await Promise.all([1, 2, 3].map(() =>
      p.call(
        async () => {
          await new Promise((r) => setTimeout(r, 50));
        },
        [],
        {},
      )
    ));
    await sleep(400);
    assert.equal(p.stats().runners, 1);
    assert.equal(await p.call(() => "still here"), "still here");
  });

  test(`[${kind}] singleUse runners serve one call each`, async () => {
    await using p = pool({ max: 2, singleUse: true });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        await p.call(function (this: CallContext) {
          return this.runnerId;
        }),
      );
    }
    assert.equal(new Set(ids).size, 3);
    assert.equal(p.stats().boots, 3);
    assert.ok(await waitFor(() => p.stats().runners === 0, 5000));
  });

  test(`[${kind}] a timeout rejects the caller and aborts the remote function`, async () => {
    await using p = pool({ max: 1 });
    await p.call(() => "warm");
    const key = `to-${crypto.randomUUID()}`;
    const started = Date.now();
    const err = await p.call(
      function (this: CallContext, k: string) {
        const g = globalThis as unknown as Record<string, string>;
        return new Promise((resolve) => {
          this.signal.addEventListener("abort", () => {
            g[k] = String((this.signal.reason as Error).name);
            resolve("late");
          });
        });
      },
      [key],
      { timeout: 300 },
    ).catch((e) => e);
    assert.ok(err instanceof TimeoutError, String(err));
    assert.ok(Date.now() - started < 2000);
    const seen = await waitForAsync(
      async () =>
        Boolean(
          await p.call((k: string) => (globalThis as unknown as Record<string, string>)[k], [key]),
        ),
      2000,
    );
    assert.ok(seen, "the runner saw the abort");
  });

  test(`[${kind}] an AbortSignal cancels the call on the runner`, async () => {
    await using p = pool({ max: 1 });
    await p.call(() => "warm");
    const key = `ab-${crypto.randomUUID()}`;
    const controller = new AbortController();
    const call = p.call(
      function (this: CallContext, k: string) {
        return new Promise((resolve) => {
          this.signal.addEventListener("abort", () => {
            (globalThis as unknown as Record<string, boolean>)[k] = true;
            resolve(1);
          });
        });
      },
      [key],
      { signal: controller.signal },
    );
    await sleep(200);
    controller.abort(new Error("user gave up"));
    await assert.rejects(call, /user gave up/);
    const seen = await waitForAsync(
      () =>
        p.call((k: string) => (globalThis as unknown as Record<string, boolean>)[k] === true, [
          key,
        ]),
      2000,
    );
    assert.ok(seen, "the runner saw the abort");
    assert.equal(p.stats().busySlots, 0);
  });

  test(`[${kind}] a runner killed mid-call rejects its calls at once and is replaced`, async () => {
    const backend = make();
    await using p = new Pool({ backend, max: 1, name: `t-${kind}` });
    const runnerId = await p.call(function (this: CallContext) {
      return this.runnerId;
    });
    const inFlight = p.call(() => new Promise(() => {}), [], { timeout: 60_000 });
    await sleep(100);
    const killedAt = Date.now();
    assert.ok(backend.kill(runnerId));
    const err = await inFlight.catch((e) => e);
    assert.ok(err instanceof RunnerExitedError, String(err));
    assert.ok(Date.now() - killedAt < 1000, `rejected after ${Date.now() - killedAt} ms`);
    assert.equal(await p.call(() => "ok"), "ok");
    assert.equal(p.stats().boots, 2);
  });

  test(`[${kind}] a failed boot rejects waiting callers with BootError; later demand retries`, async () => {
    await using p = pool({ max: 1, backend: new FlakyBackend(make(), [1]) });
    const err = await p.call(() => 1).catch((e) => e);
    assert.ok(err instanceof BootError, String(err));
    assert.match(String(err.cause), /injected failure of boot 1/);
    assert.equal(await p.call(() => 2), 2);
    assert.equal(p.stats().bootFailures, 1);
  });

  test(`[${kind}] module exports run on the runner, typed`, async () => {
    await using p = pool({ max: 1 });
    const jobs = p.module<typeof Jobs>(JOBS);
    assert.equal(await jobs.add(2, 3), 5);
    assert.deepEqual(await jobs.reverse(new Uint8Array([1, 2, 3])), new Uint8Array([3, 2, 1]));
    const err = await jobs.fail("nope").catch((e) => e);
    assert.ok(err instanceof RemoteError);
    assert.equal(err.remoteName, "RangeError");
    const missing = p.module<{ nothing(): void }>(JOBS);
    await assert.rejects(() => missing.nothing(), /no function export "nothing"/);
  });

  test(`[${kind}] streams apply back-pressure and an early break stops the generator`, async () => {
    await using p = pool({ max: 1 });
    const jobs = p.module<typeof Jobs>(JOBS);
    const got: number[] = [];
    for await (const n of jobs.count(10_000, 1)) {
      got.push(n);
      if (got.length === 3) break;
    }
    assert.deepEqual(got, [0, 1, 2]);
    await sleep(200);
    const reached = await jobs.countProgress();
    assert.ok(reached < 3 + 16 + 2, `generator ran ahead to ${reached}`);
    const all: number[] = [];
    for await (const n of jobs.count(40)) all.push(n);
    assert.equal(all.length, 40);
    assert.equal(p.stats().busySlots, 0);
    const viaCall = await p.call(async function* () {
      yield "a";
      yield "b";
    });
    const letters: string[] = [];
    for await (const s of viaCall) letters.push(s);
    assert.deepEqual(letters, ["a", "b"]);
  });

  test(`[${kind}] placeChild holds a slot and keeps its runner alive until stopped`, async () => {
    await using p = pool({ max: 1, maxConcurrency: 1, idleShutdownAfter: 100 });
    const child = await p.placeChild(function (this: CallContext) {
      return new Promise<string>((resolve) =>
        this.signal.addEventListener("abort", () => resolve("stopped"))
      );
    });
    assert.match(child.runnerId, new RegExp(`^t-${kind}-`));
    await assert.rejects(() => p.call(() => 1, [], { timeout: 300 }), TimeoutError);
    assert.equal(p.stats().runners, 1);
    await child.stop();
    await assert.rejects(child.done, (e) => (e as Error).name === "AbortError");
    assert.equal(await p.call(() => "free"), "free");
  });

  test(`[${kind}] cast() reports failures to onCastError`, async () => {
    const errors: unknown[] = [];
    await using p = pool({ max: 1, onCastError: (e) => errors.push(e) });
    p.cast(() => {
      throw new Error("cast boom");
    });
    assert.ok(await waitFor(() => errors.length === 1, 10_000));
    assert.ok(errors[0] instanceof RemoteError);
  });

  test(`[${kind}] close() drains in-flight calls, then rejects new ones`, async () => {
    const p = pool({ max: 1 });
    await p.call(() => "warm");
    const slow = p.call(async () => {
      await new Promise((r) => setTimeout(r, 300));
      return "finished";
    });
    await sleep(100);
    await p.close();
    assert.equal(await slow, "finished");
    assert.equal(p.stats().runners, 0);
    await assert.rejects(() => p.call(() => 1), PoolClosedError);
  });

  test(`[${kind}] close() stops calls that outlive shutdownTimeout`, async () => {
    const p = pool({ max: 1, shutdownTimeout: 200 });
    await p.call(() => "warm");
    const stuck = p.call(() => new Promise(() => {}), [], { timeout: 60_000 });
    stuck.catch(() => {});
    await sleep(100);
    const started = Date.now();
    await p.close();
    assert.ok(Date.now() - started < 3000);
    await assert.rejects(stuck, RunnerExitedError);
  });

  test(`[${kind}] 10 000 calls settle exactly once each, none lost or doubled`, async () => {
    await using p = pool({ max: 2, maxConcurrency: 64 });
    const n = 10_000;
    const seen = new Uint8Array(n);
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        p.call((x: number) => x, [i]).then((x) => {
          seen[x]!++;
        })),
    );
    assert.ok(seen.every((c) => c === 1));
    const stats = p.stats();
    assert.equal(stats.callsOk, n);
    assert.equal(stats.busySlots, 0);
    assert.ok(stats.runners <= 2);
  });
}
