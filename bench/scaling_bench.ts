/**
 * Scaling policy under load (issue 20): a step from idle to 32 concurrent
 * callers of a 50 ms call, and a ramp from 1 to 64 callers, each caller
 * calling in a loop, for FLAME's default (grow only when a caller finds no
 * free slot) and for headroom settings, measured in the same run on the same
 * backend. Per setting: p50/p99 time to result, the calls that found no free
 * slot (they waited for a boot), the callers that waited so after the first
 * wave of boots was in (runners up and none booting: the goal with headroom
 * is none), and the runner-seconds spent (all, and idle: capacity no call
 * used).
 *
 * Runners offer 4 slots (`maxConcurrency: 4`), so 32 callers need 8 runners
 * and 64 need 16 (`max: 16`).
 *
 * @module
 */

import type { Backend } from "../src/backends/backend.ts";
import { Pool } from "../src/parent/pool.ts";
import type { PoolOptions } from "../src/parent/options.ts";
import { emit, type Reported } from "./_report.ts";
import { percentile, sleep, within } from "./_stats.ts";

/** A headroom setting of the bench. */
interface Setting {
  label: string;
  options: Pick<PoolOptions, "growAt" | "standby">;
}

const SETTINGS: readonly Setting[] = [
  { label: "FLAME default", options: {} },
  { label: "growAt 0.75", options: { growAt: 0.75 } },
  { label: "growAt 0.5, standby 1", options: { growAt: 0.5, standby: 1 } },
];

const SLOTS = 4;
const MAX = 16;
const CALL_MS = 50;

/** How callers arrive: all at once (step), or one by one over the run (ramp). */
interface Load {
  name: string;
  callers: number;
  /** Milliseconds over which the callers start (0: all at once). */
  rampMs: number;
  /** Milliseconds the load lasts. */
  durationMs: number;
}

interface Outcome {
  latencies: number[];
  /** Calls that found no free slot. */
  waited: number;
  /** Of them, calls made once the first wave of boots was in. */
  waitedAfterFirstBoot: number;
  /** Callers that made such a call. */
  callersWaitedAfterFirstBoot: number;
  runnerSeconds: number;
  idleRunnerSeconds: number;
}

async function runLoad(backend: () => Backend, load: Load, setting: Setting): Promise<Outcome> {
  const pool = new Pool({
    backend: backend(),
    max: MAX,
    maxConcurrency: SLOTS,
    timeout: 60_000,
    bootTimeout: 60_000,
    idleShutdownAfter: 5000,
    ...setting.options,
  });
  const latencies: number[] = [];
  let waited = 0;
  let waitedAfterFirstBoot = 0;
  const callersWaited = new Set<number>();
  let firstUp = false;
  let runnerSeconds = 0;
  let idleRunnerSeconds = 0;
  let running = true;
  // Runner-seconds, sampled every 20 ms while the load runs.
  const sampler = (async () => {
    let last = performance.now();
    while (running) {
      await sleep(20);
      const now = performance.now();
      const s = pool.stats();
      const dt = (now - last) / 1000;
      last = now;
      runnerSeconds += (s.runners + s.booting) * dt;
      idleRunnerSeconds += Math.max(0, s.runners - s.busySlots / SLOTS) * dt;
    }
  })();
  const started = performance.now();
  const end = started + load.durationMs;
  const caller = async (index: number) => {
    if (load.rampMs > 0) await sleep((load.rampMs * index) / load.callers);
    while (performance.now() < end) {
      const stats = pool.stats();
      // The first wave of boots is in: runners up, none booting.
      firstUp ||= stats.runners > 0 && stats.booting === 0;
      const t0 = performance.now();
      // Placed or queued synchronously: `queued` grew only when this call found no free slot.
      const call = pool.call((ms: number) => new Promise((r) => setTimeout(r, ms)), [CALL_MS]);
      if (pool.stats().queued > stats.queued) {
        waited++;
        if (firstUp) {
          waitedAfterFirstBoot++;
          callersWaited.add(index);
        }
      }
      await call;
      latencies.push(performance.now() - t0);
    }
  };
  try {
    await within(
      Promise.all(Array.from({ length: load.callers }, (_, i) => caller(i))),
      load.durationMs + 120_000,
      `${load.name} (${setting.label})`,
    );
  } finally {
    running = false;
    await sampler;
    await pool.close();
  }
  return {
    latencies,
    waited,
    waitedAfterFirstBoot,
    callersWaitedAfterFirstBoot: callersWaited.size,
    runnerSeconds,
    idleRunnerSeconds,
  };
}

/**
 * Runs the scaling figures on one backend.
 *
 * @param section `"scaling/process"` or `"scaling/docker"`.
 * @param backend Makes the backend (one per pool).
 * @param quick Shorter loads.
 * @returns The figures (also printed as `BENCH` lines).
 */
export async function runScalingBench(
  section: string,
  backend: () => Backend,
  quick: boolean,
): Promise<Reported[]> {
  const loads: Load[] = [
    { name: "step 0→32", callers: 32, rampMs: 0, durationMs: quick ? 1500 : 10_000 },
    {
      name: "ramp 1→64",
      callers: 64,
      rampMs: quick ? 3000 : 20_000,
      durationMs: quick ? 3000 : 20_000,
    },
  ];
  const figures: Reported[] = [];
  for (const load of loads) {
    let base: Outcome | undefined;
    for (const setting of quick ? SETTINGS.slice(0, 2) : SETTINGS) {
      const o = await runLoad(backend, load, setting);
      base ??= o;
      const label = `${load.name}, ${setting.label}`;
      const baseline = (name: string, value: number) =>
        setting === SETTINGS[0] ? {} : { baseline: { name: `FLAME default ${name}`, value } };
      const p50 = percentile(o.latencies, 50);
      const p99 = percentile(o.latencies, 99);
      figures.push(
        emit({
          section,
          name: `${label}: time to result p50`,
          value: p50,
          unit: "ms",
          ...baseline("p50", percentile(base.latencies, 50)),
          note: `${o.latencies.length} calls of ${CALL_MS} ms`,
        }),
        emit({
          section,
          name: `${label}: time to result p99`,
          value: p99,
          unit: "ms",
          ...baseline("p99", percentile(base.latencies, 99)),
        }),
        emit({
          section,
          name: `${label}: callers that waited for a boot after the first wave`,
          value: o.callersWaitedAfterFirstBoot,
          unit: "callers",
          ...(setting === SETTINGS[0] ? {} : { target: { op: "<=", bound: 0, on: "value" } }),
          note: `of ${load.callers}; ${o.waitedAfterFirstBoot} calls; ${o.waited} in all`,
        }),
        emit({
          section,
          name: `${label}: idle runner-seconds`,
          value: o.idleRunnerSeconds,
          unit: "runner-s",
          ...baseline("idle runner-s", base.idleRunnerSeconds),
          note: `${o.runnerSeconds.toFixed(1)} runner-s in all`,
        }),
      );
    }
  }
  return figures;
}
