/**
 * What running calls on call workers costs a warm call: the same no-op call
 * on two ProcessBackend runners, one with its call workers (the default) and
 * one with `FLAME_RUNNER_WORKERS=0` (calls on the link's thread), measured in
 * alternating blocks; the difference is the worker hop, reported against a
 * `postMessage` round trip to a Web Worker of this process, measured in the
 * same run (the hop a worker design pays at the least).
 *
 * @module
 */

import { Pool } from "../src/parent/pool.ts";
import { ProcessBackend } from "../src/backends/process.ts";
import { emit, type Reported } from "./_report.ts";
import { median } from "./_stats.ts";
import { LATENCY_BLOCK, noop, poolLatency } from "./warm_bench.ts";

/** Sequential `postMessage` round trips to an echoing worker, in microseconds. */
async function postMessageRoundTrips(worker: Worker, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      worker.onmessage = () => resolve();
      worker.postMessage(i);
    });
    samples.push((performance.now() - t0) * 1000);
  }
  return samples;
}

const ECHO_WORKER = "data:text/javascript,self.onmessage = (e) => self.postMessage(e.data);";

function warmPool(workers: boolean): Pool {
  return new Pool({
    backend: new ProcessBackend({ env: workers ? {} : { FLAME_RUNNER_WORKERS: "0" } }),
    max: 1,
    min: 1,
    idleShutdownAfter: Infinity,
    timeout: 120_000,
    bootTimeout: 60_000,
  });
}

/**
 * Runs the worker-hop figures.
 *
 * @param calls Round trips per side.
 * @returns The figures (also printed as `BENCH` lines).
 */
export async function runWorkerBench(calls: number): Promise<Reported[]> {
  const withWorkers = warmPool(true);
  const inline = warmPool(false);
  const echo = new Worker(ECHO_WORKER, { type: "module" });
  try {
    await withWorkers.call(noop);
    await inline.call(noop);
    // Warm every path (JIT, sockets, the worker's loop).
    await poolLatency(withWorkers, 500);
    await poolLatency(inline, 500);
    await postMessageRoundTrips(echo, 500);
    const viaWorkers: number[] = [];
    const onThread: number[] = [];
    const post: number[] = [];
    for (let done = 0; done < calls; done += LATENCY_BLOCK) {
      viaWorkers.push(...(await poolLatency(withWorkers, LATENCY_BLOCK)).slice(1));
      onThread.push(...(await poolLatency(inline, LATENCY_BLOCK)).slice(1));
      post.push(...(await postMessageRoundTrips(echo, LATENCY_BLOCK)).slice(1));
    }
    const workersP50 = median(viaWorkers);
    const inlineP50 = median(onThread);
    const postP50 = median(post);
    return [
      emit({
        section: "warm/process",
        name: "no-op call p50, calls on call workers (the default)",
        value: workersP50,
        unit: "µs",
        baseline: { name: "FLAME_RUNNER_WORKERS=0 (calls on the link's thread)", value: inlineP50 },
      }),
      emit({
        section: "warm/process",
        name: "worker hop (p50 with workers − p50 without)",
        value: Math.max(0, workersP50 - inlineP50),
        unit: "µs",
        baseline: { name: "postMessage round trip p50, same run", value: postP50 },
        note: "the call's trip from the runner's main thread to a worker and back",
      }),
    ];
  } finally {
    echo.terminate();
    await Promise.all([withWorkers.close(), inline.close()]);
  }
}
