/**
 * Scaling policy (issue 20, first part): headroom boots ahead of demand and
 * never past `max`; standby runners idle out when demand falls; retries stop
 * at `attempts` and never run a call that is not marked retryable twice;
 * `resize()` grows and shrinks a live pool. On LocalBackend and ProcessBackend.
 */

import assert from "node:assert/strict";
import {
  type Backend,
  type CallContext,
  LocalBackend,
  Pool,
  ProcessBackend,
  RemoteError,
  RunnerExitedError,
  type ScalingState,
  TimeoutError,
} from "../../mod.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

const cases: { kind: string; make: () => Backend }[] = [
  { kind: "local", make: () => new LocalBackend() },
  { kind: "process", make: () => new ProcessBackend() },
];

for (const c of cases) {
  Deno.test(`[${c.kind}] growAt boots the next runner before the pool is full, never past max`, async () => {
    await using pool = new Pool({ backend: c.make(), max: 2, maxConcurrency: 4, growAt: 0.5 });
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const first = pool.call(wait, [300]);
    await until(() => pool.stats().runners === 1, 10_000, "the first runner");
    assert.equal(pool.stats().booting, 0, "1 busy slot of 4: no headroom boot yet");
    const second = pool.call(wait, [300]);
    // 2 of 4 slots busy: 50 %, so the second runner boots though slots are free.
    assert.equal(pool.stats().booting, 1);
    assert.equal(pool.stats().queued, 0);
    const more = Array.from({ length: 4 }, () => pool.call(wait, [300]));
    assert.ok(pool.stats().runners + pool.stats().booting <= 2, "past max");
    await Promise.all([first, second, ...more]);
    assert.equal(pool.stats().boots, 2);
  });

  Deno.test(`[${c.kind}] standby runners are kept while calls run and idle out when demand falls`, async () => {
    await using pool = new Pool({
      backend: c.make(),
      max: 4,
      maxConcurrency: 2,
      standby: 1,
      idleShutdownAfter: 300,
    });
    const busy = pool.call((ms: number) => new Promise((r) => setTimeout(r, ms)), [1200]);
    await until(() => pool.stats().runners === 2, 10_000, "the runner and its standby");
    // The standby runner stays through its idle limit while the call runs.
    await sleep(600);
    assert.equal(pool.stats().runners, 2);
    await busy;
    await until(() => pool.stats().runners === 0, 5000, "idle shutdown of both");
  });

  Deno.test(`[${c.kind}] a retried call sees this.attempt; retries stop at attempts`, async () => {
    const backend = c.make();
    const retries: number[] = [];
    await using pool = new Pool({
      backend,
      max: 1,
      retry: { attempts: 3, backoff: 10 },
      onEvent: (e) => {
        if (e.name === "flame.call.retry") retries.push(e.attributes["flame.attempt"] as number);
      },
    });
    // The runner is killed during attempt 1; attempt 2 returns.
    const marker = await Deno.makeTempFile();
    try {
      const call = pool.call(async function (this: CallContext, path: string) {
        await Deno.writeTextFile(path, `${this.attempt} ${this.runnerId}\n`, { append: true });
        if (this.attempt === 1) await new Promise((r) => setTimeout(r, 60_000));
        return this.attempt;
      }, [marker]);
      await until(() => Deno.readTextFileSync(marker) !== "", 10_000, "attempt 1");
      assert.ok(backend.kill!(Deno.readTextFileSync(marker).trim().split(" ")[1]!));
      assert.equal(await call, 2);
      assert.deepEqual(retries, [1]);
    } finally {
      await Deno.remove(marker);
    }
    // A RemoteError is retried only when named; attempts bound it.
    let runs = 0;
    const err = await pool.call(
      () => {
        throw new Error("always");
      },
      [],
      { retry: { attempts: 2, backoff: 1, on: ["RemoteError"] } },
    ).catch((e) => e);
    assert.ok(err instanceof RemoteError);
    runs = retries.length;
    assert.equal(runs, 2, "one more retry, then the error");
  });

  Deno.test(`[${c.kind}] a call not marked retryable is never run twice, even when its runner dies`, async () => {
    const backend = c.make();
    await using pool = new Pool({ backend, max: 1 });
    const marker = await Deno.makeTempFile();
    try {
      const runnerId = await pool.call(function (this: CallContext) {
        return this.runnerId;
      });
      const call = pool.call(async function (this: CallContext, path: string) {
        await Deno.writeTextFile(path, `${this.attempt}\n`, { append: true });
        await new Promise((r) => setTimeout(r, 60_000));
      }, [marker]);
      await until(() => Deno.readTextFileSync(marker) !== "", 5000, "the call to start");
      assert.ok(backend.kill!(runnerId));
      const err = await call.catch((e) => e);
      assert.ok(err instanceof RunnerExitedError, String(err));
      await sleep(300);
      assert.equal(Deno.readTextFileSync(marker), "1\n");
    } finally {
      await Deno.remove(marker);
    }
  });

  Deno.test(`[${c.kind}] resize() grows at once, serves queued callers first, shrinks idle runners first`, async () => {
    const shrinks: string[] = [];
    await using pool = new Pool({
      backend: c.make(),
      max: 1,
      maxConcurrency: 1,
      onShrink: (e) => shrinks.push(e.reason),
    });
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const order: number[] = [];
    const calls = [0, 1, 2, 3].map((i) => pool.call(wait, [200]).then(() => order.push(i)));
    await until(() => pool.stats().runners === 1, 10_000, "the first runner");
    assert.equal(pool.stats().queued, 3);
    pool.resize({ max: 4 });
    assert.equal(pool.stats().booting, 3, "the queued callers get new runners at once");
    await Promise.all(calls);
    assert.equal(order[0], 0);
    assert.equal(pool.stats().runners, 4);
    // Shrink with one call in flight: the three idle runners go, the busy one stays.
    const inFlight = pool.call(wait, [300]);
    pool.resize({ max: 1 });
    assert.deepEqual(shrinks, ["resized", "resized", "resized"]);
    await inFlight;
    assert.throws(() => pool.resize({ min: 3, max: 2 }), RangeError);
    pool.resize({ min: 1 });
    assert.equal(pool.stats().booting, 0, "min 1 is met by the runner left");
  });

  Deno.test(`[${c.kind}] retries stop at the call's timeout`, async () => {
    let retried = 0;
    await using pool = new Pool({
      backend: c.make(),
      max: 1,
      retry: { attempts: 10, backoff: 300, on: ["RemoteError"] },
      onEvent: (e) => {
        if (e.name === "flame.call.retry") retried++;
      },
    });
    await pool.call(() => "warm");
    // Attempts at ≈ 0, 300 and 900 ms; the next wait (1200 ms) would end past 1500 ms.
    const started = Date.now();
    const err = await pool.call(
      () => {
        throw new Error("no");
      },
      [],
      { timeout: 1500 },
    ).catch((e) => e);
    assert.ok(err instanceof RemoteError, String(err));
    assert.equal(retried, 2);
    assert.ok(Date.now() - started < 1500, "rejected before the timeout, with the cause");
    // An attempt that runs into the timeout ends the call with TimeoutError, retried no more.
    retried = 0;
    const slow = await pool.call(
      async () => {
        await new Promise((r) => setTimeout(r, 400));
        throw new Error("slow no");
      },
      [],
      { timeout: 1000, retry: { attempts: 10, backoff: 10, on: ["RemoteError"] } },
    )
      .catch((e) => e);
    assert.ok(slow instanceof TimeoutError, String(slow));
    assert.equal(retried, 2, "attempts at ≈ 0, 410 and 820 ms; the third timed out");
    await sleep(500);
    assert.equal(retried, 2);
  });

  Deno.test(`[${c.kind}] a custom scaling policy decides, within max, and a throwing one falls back to min`, async () => {
    const seen: ScalingState[] = [];
    await using pool = new Pool({
      backend: c.make(),
      max: 3,
      maxConcurrency: 1,
      idleShutdownAfter: 200,
      scaling: (s) => {
        seen.push(s);
        return s.busySlots + s.queued > 0 ? 99 : 0;
      },
    });
    const busy = pool.call((ms: number) => new Promise((r) => setTimeout(r, ms)), [800]);
    busy.catch(() => {}); // awaited below; a failed assertion must not hide behind it
    assert.equal(pool.stats().runners + pool.stats().booting, 3, "99 asked, max 3 booted");
    assert.ok(seen.some((s) => s.max === 3 && s.slotsPerRunner === 1 && s.queued === 1));
    await until(() => pool.stats().runners === 3, 10_000, "three runners");
    await sleep(400);
    assert.equal(pool.stats().runners, 3, "kept past their idle limit while the call runs");
    await busy;
    await until(() => pool.stats().runners === 0, 5000, "idle shutdown once the policy says 0");

    const errors: string[] = [];
    const quiet = () => {};
    await using broken = new Pool({
      backend: c.make(),
      max: 3,
      logger: { debug: quiet, info: quiet, warn: quiet, error: (m: string) => errors.push(m) },
      scaling: () => {
        throw new Error("policy bug");
      },
    });
    assert.deepEqual(await Promise.all([broken.call(() => 1), broken.call(() => 2)]), [1, 2]);
    assert.equal(broken.stats().boots, 1, "FLAME's growth only");
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0]!, /scaling policy threw \(policy bug\)/);
  });
}
