/**
 * Chaos: many calls through `max: 4` while runners are killed at random.
 * Every call settles exactly once, with its own result or a typed error;
 * none hangs; the pool's counters add up; nothing is left behind.
 */

import { ensureTestImage, ignoreWithoutDocker, TestNetwork } from "../_helpers/docker.ts";
import assert from "node:assert/strict";
import { type Backend, BootError, Pool, ProcessBackend, RunnerExitedError } from "../../mod.ts";
import { mulberry32 } from "../_helpers/prng.ts";
import {
  assertNoSecretLeak,
  captureLogger,
  removeContainers,
  waitNoContainers,
  WatchedDockerBackend,
} from "./_chaos.ts";

interface StormOptions {
  label: string;
  backend: Backend & { kill(runnerId: string): boolean };
  name: string;
  calls: number;
  /** Calls in flight at once. */
  concurrency: number;
  killEvery: number;
  maxKills: number;
  /** Whole-run deadline: past it, the unsettled calls fail the test. */
  deadline: number;
  seed: number;
}

interface StormResult {
  ok: number;
  failed: Map<string, number>;
  kills: number;
  elapsed: number;
  errors: unknown[];
  stats: unknown[];
  logs: string[];
}

async function storm(o: StormOptions): Promise<StormResult> {
  const random = mulberry32(o.seed);
  const live: string[] = [];
  const log = captureLogger();
  const pool = new Pool({
    backend: o.backend,
    name: o.name,
    max: 4,
    maxConcurrency: 8,
    timeout: o.deadline,
    logger: log.logger,
    onGrowEnd: (e) => {
      if (e.ok) live.push(e.runnerId);
    },
    onShrink: (e) => {
      const i = live.indexOf(e.runnerId);
      if (i >= 0) live.splice(i, 1);
    },
  });
  const settled = new Uint8Array(o.calls);
  const failed = new Map<string, number>();
  const errors: unknown[] = [];
  const stats: unknown[] = [];
  let ok = 0;
  let kills = 0;
  let next = 0;
  const started = Date.now();
  const killer = setInterval(() => {
    if (kills >= o.maxKills || live.length === 0) return;
    if (o.backend.kill(live[Math.floor(random() * live.length)]!)) kills++;
    stats.push(pool.stats());
  }, o.killEvery);
  const worker = async () => {
    while (next < o.calls) {
      const i = next++;
      const ms = Math.floor(random() * 20);
      try {
        const value = await pool.call(
          (n: number, wait: number) => new Promise((r) => setTimeout(() => r(n), wait)),
          [i, ms],
        );
        assert.equal(value, i, `call ${i} got the result of call ${value}`);
        ok++;
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        const name = (err as Error).name;
        failed.set(name, (failed.get(name) ?? 0) + 1);
        errors.push(err);
      }
      settled[i]!++;
    }
  };
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  try {
    const done = Promise.all(Array.from({ length: o.concurrency }, worker));
    const timedOut = new Promise<"timeout">((r) =>
      watchdog = setTimeout(() => r("timeout"), o.deadline)
    );
    const outcome = await Promise.race([done, timedOut]);
    clearInterval(killer);
    const hung = settled.reduce((n, c) => n + (c === 0 ? 1 : 0), 0);
    assert.notEqual(outcome, "timeout", `${hung} calls still unsettled after ${o.deadline} ms`);
  } finally {
    clearInterval(killer);
    clearTimeout(watchdog);
    await pool.close();
  }
  const elapsed = Date.now() - started;
  const twice = settled.findIndex((c) => c > 1);
  assert.equal(twice, -1, `call ${twice} settled ${settled[twice]} times`);
  assert.ok(settled.every((c) => c === 1), "every call settled");
  for (const name of failed.keys()) {
    assert.ok(
      [RunnerExitedError.name, BootError.name].includes(name),
      `unexpected error type ${name}: ${errors.find((e) => (e as Error).name === name)}`,
    );
  }
  const s = pool.stats();
  stats.push(s);
  assert.equal(s.callsOk, ok, "stats.callsOk counts each success once");
  assert.equal(s.callsOk + s.callsFailed, o.calls, "stats count each call once");
  assert.equal(s.busySlots, 0);
  assert.equal(s.queued, 0);
  assert.equal(s.runners, 0);
  assert.ok(kills > 0, "runners were killed");
  const failures = [...failed].map(([n, c]) => `${c} ${n}`).join(", ") || "none";
  console.log(
    `  ${o.label}: ${o.calls} calls settled exactly once in ${elapsed} ms (seed ${o.seed}): ${ok} ok, failed: ${failures}; ${kills} runners killed; ${s.boots} boots (${s.bootFailures} failed)`,
  );
  return { ok, failed, kills, elapsed, errors, stats, logs: log.lines };
}

const SEED = Number(Deno.env.get("FLAME_CHAOS_SEED") ?? 0x5eed);

Deno.test("[chaos] 10 000 calls through max 4 while process runners are killed every 300 ms", async () => {
  const backend = new ProcessBackend();
  const result = await storm({
    label: "process storm",
    backend,
    name: "chaos-storm",
    calls: 10_000,
    concurrency: 32,
    killEvery: 300,
    maxKills: 30,
    deadline: 60_000,
    seed: SEED,
  });
  assert.ok(result.ok > 0);
});

Deno.test({
  name: "[chaos] 2 000 calls through max 4 while Docker runners are killed every 300 ms",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await ensureTestImage();
    const network = await TestNetwork.create("chaos-storm");
    const name = `chaos-dstorm-${crypto.randomUUID().slice(0, 6)}`;
    const backend = new WatchedDockerBackend({ network: network.name });
    try {
      const result = await storm({
        label: "docker storm",
        backend,
        name,
        calls: 2000,
        concurrency: 32,
        killEvery: 300,
        maxKills: 15,
        deadline: 60_000,
        seed: SEED,
      });
      assert.ok(await waitNoContainers(name, 10_000) >= 0, "containers left behind");
      assertNoSecretLeak("docker storm", backend.secrets, {
        logs: [...result.logs, ...backend.log.lines],
        errors: result.errors,
        stats: result.stats,
      });
    } finally {
      await removeContainers(name);
      await network.remove();
    }
  },
});
