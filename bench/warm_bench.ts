/**
 * Warm-runner figures for one backend, each against a raw-socket echo over
 * the same path (a Deno echo peer where the runner runs, dialling the bench
 * as a runner dials its parent), measured in alternating rounds so noise hits
 * both alike: no-op call latency, pipelined throughput, 64 MiB payload.
 * Also parent RSS growth over many warm calls.
 *
 * @module
 */

import type { Backend } from "../src/backends/backend.ts";
import { Pool } from "../src/parent/pool.ts";
import { functionSource } from "../src/parent/shipping.ts";
import { encodeCallBody } from "../src/protocol/messages.ts";
import { FRAME_HEADER_SIZE } from "../src/protocol/frame.ts";
import { CALL_HEADER_SIZE } from "../src/protocol/messages.ts";
import { echoCopy, echoLatency, echoPipelined, p50p99 } from "./_raw.ts";
import { emit, type Reported } from "./_report.ts";
import { collectGarbage, median, within } from "./_stats.ts";
import { allocatedPerOp } from "./_alloc.ts";

/** Where a warm bench runs. */
export interface WarmTarget {
  /** Section prefix, e.g. `"process"`. */
  section: string;
  /** Address the raw listener binds (where the pool listens for this backend). */
  listenHost: string;
  /** Starts the echo peer dialling `listenHost:port` with extra env; resolves to its stopper. */
  startPeer(port: number, env?: Record<string, string>): Promise<() => Promise<void>>;
  /** A fresh backend. */
  backend(): Backend;
  /** Also measure parent RSS growth over many calls. */
  memory?: boolean;
}

/** Sizes of the runs. */
export interface WarmSizes {
  /** Alternating rounds. */
  rounds: number;
  /** Round trips per latency round. */
  latencyCalls: number;
  /** Calls per throughput round. */
  throughputCalls: number;
  /** Payload bytes. */
  payloadBytes: number;
  /** Payload rounds. */
  payloadRounds: number;
  /** Calls for the RSS growth figure. */
  memoryCalls: number;
}

const IN_FLIGHT = 64;
/**
 * Round trips per alternating latency block. Short, so that a burst of host
 * noise (another tenant, the hypervisor: often milliseconds) spans blocks of
 * both sides rather than landing on one.
 */
export const LATENCY_BLOCK = 20;
const fmtUs = (us: number) => `${Math.round(us).toLocaleString("en-US")} µs`;

/** The function every latency figure calls. */
export const noop = (): number => 0;
const identity = (b: Uint8Array) => b;

/** Bytes of a no-op call frame: what the raw echo carries per round trip. */
export function noopCallSize(): number {
  const body = encodeCallBody({ kind: "fn", source: functionSource(noop) }, []);
  return FRAME_HEADER_SIZE + CALL_HEADER_SIZE + body.reduce((n, p) => n + p.length, 0);
}

/** Round-trip times in microseconds from {@linkcode alternatingLatency}. */
export interface AlternatingSamples {
  /** Echo round trips, each block's first left out. */
  raw: number[];
  /** Pool calls, each block's first left out. */
  pool: number[];
  /** The first echo round trip of each block. */
  rawFirst: number[];
  /** The first pool call of each block. */
  poolFirst: number[];
}

/**
 * `calls` round trips each way in alternating blocks of {@linkcode LATENCY_BLOCK}.
 * The first round trip of a block follows the other side's block, during
 * which this side's processes slept; it is kept apart (as a figure of its
 * own), so the steady figures compare steady ping-pong on both sides.
 *
 * @returns Round-trip times in microseconds.
 */
export async function alternatingLatency(
  conn: Deno.Conn,
  size: number,
  pool: Pool,
  calls: number,
): Promise<AlternatingSamples> {
  const out: AlternatingSamples = { raw: [], pool: [], rawFirst: [], poolFirst: [] };
  for (let done = 0; done < calls; done += LATENCY_BLOCK) {
    const n = Math.min(LATENCY_BLOCK, calls - done);
    const raw = await echoLatency(conn, size, n);
    const viaPool = await poolLatency(pool, n);
    out.rawFirst.push(raw[0]!);
    out.poolFirst.push(viaPool[0]!);
    for (let i = 1; i < n; i++) {
      out.raw.push(raw[i]!);
      out.pool.push(viaPool[i]!);
    }
  }
  return out;
}

/**
 * Sequential no-op calls.
 *
 * @returns Round-trip times in microseconds.
 */
export async function poolLatency(pool: Pool, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await pool.call(noop);
    samples.push((performance.now() - t0) * 1000);
  }
  return samples;
}

async function poolThroughput(pool: Pool, total: number): Promise<number> {
  let issued = 0;
  const worker = async () => {
    while (issued < total) {
      issued++;
      await pool.call(noop);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return total / ((performance.now() - t0) / 1000);
}

async function poolPayload(pool: Pool, bytes: Uint8Array): Promise<number> {
  const t0 = performance.now();
  const back = await pool.call(identity, [bytes]);
  const ms = performance.now() - t0;
  if (back.length !== bytes.length) throw new Error("Payload came back truncated");
  return ms;
}

/**
 * Runs the warm figures for one backend.
 *
 * @param target The backend and where its echo peer runs.
 * @param sizes How much to run.
 * @returns The figures (also printed as `BENCH` lines).
 */
export async function runWarmBench(target: WarmTarget, sizes: WarmSizes): Promise<Reported[]> {
  const out: Reported[] = [];
  const section = `warm/${target.section}`;
  const listener = Deno.listen({ hostname: target.listenHost, port: 0 });
  let stopPeer: (() => Promise<void>) | undefined;
  let stopBlockPeer: (() => Promise<void>) | undefined;
  let conn: Deno.TcpConn | undefined;
  let blockConn: Deno.TcpConn | undefined;
  const pool = new Pool({
    backend: target.backend(),
    max: 1,
    min: 1,
    maxConcurrency: 1000,
    idleShutdownAfter: Infinity,
    timeout: 120_000,
    bootTimeout: 60_000,
  });
  try {
    stopPeer = await target.startPeer((listener.addr as Deno.NetAddr).port);
    conn = await within(listener.accept(), 60_000, "echo peer connect") as Deno.TcpConn;
    conn.setNoDelay(true);
    await within(pool.call(noop), 60_000, "first call");

    // The echo carries what a no-op call frame carries.
    const size = noopCallSize();

    // Warm both paths (JIT, socket buffers).
    await echoLatency(conn, size, 500);
    await poolLatency(pool, 500);
    await echoPipelined(conn, size, IN_FLIGHT, 5000);
    await poolThroughput(pool, 5000);

    const lat: AlternatingSamples = { raw: [], pool: [], rawFirst: [], poolFirst: [] };
    const rawRate: number[] = [];
    const rawBatched: number[] = [];
    const poolRate: number[] = [];
    for (let r = 0; r < sizes.rounds; r++) {
      const round = await alternatingLatency(conn, size, pool, sizes.latencyCalls);
      lat.raw.push(...round.raw);
      lat.pool.push(...round.pool);
      lat.rawFirst.push(...round.rawFirst);
      lat.poolFirst.push(...round.poolFirst);
      rawRate.push(await echoPipelined(conn, size, IN_FLIGHT, sizes.throughputCalls));
      rawBatched.push(await echoPipelined(conn, size, IN_FLIGHT, sizes.throughputCalls, true));
      poolRate.push(await poolThroughput(pool, sizes.throughputCalls));
    }
    const raw = p50p99(lat.raw);
    const call = p50p99(lat.pool);
    out.push(emit({
      section,
      name: "no-op call p50",
      value: call.p50,
      unit: "µs",
      baseline: { name: `raw echo ${size} B p50`, value: raw.p50 },
      target: { op: "<=", bound: 2 },
    }));
    out.push(emit({
      section,
      name: "no-op call p99",
      value: call.p99,
      unit: "µs",
      baseline: { name: `raw echo ${size} B p99`, value: raw.p99 },
      target: { op: "<=", bound: 2 },
    }));
    // The first of each block: this side's processes slept while the other
    // side ran. Its p99 is mostly other processes' housekeeping (the echo's
    // has read several ms here), so it is printed but not compared.
    const rawFirst = p50p99(lat.rawFirst);
    const callFirst = p50p99(lat.poolFirst);
    out.push(emit({
      section,
      name: `no-op call p50, first of each block of ${LATENCY_BLOCK} (contrast: after a pause)`,
      value: callFirst.p50,
      unit: "µs",
      baseline: { name: "raw echo p50, first of each block", value: rawFirst.p50 },
      note: `${lat.poolFirst.length} samples; p99 ${fmtUs(callFirst.p99)}, echo's ${
        fmtUs(rawFirst.p99)
      }`,
    }));
    const rate = median(poolRate);
    out.push(emit({
      section,
      name: `throughput, ${IN_FLIGHT} in flight`,
      value: rate,
      unit: "calls/s",
      target: { op: ">=", bound: 30_000, on: "value" },
    }));
    out.push(emit({
      section,
      name: `throughput vs raw pipelined echo`,
      value: rate,
      unit: "calls/s",
      baseline: {
        name: `raw echo ${size} B, a write per message, ${IN_FLIGHT} in flight`,
        value: median(rawRate),
      },
      target: { op: ">=", bound: 0.25 },
    }));
    out.push(emit({
      section,
      name: "throughput vs raw echo with batched writes (contrast)",
      value: rate,
      unit: "calls/s",
      baseline: { name: `raw echo ${size} B, batched writes`, value: median(rawBatched) },
    }));

    if (target.memory) {
      // Before the 64 MiB payloads: their garbage, collected during the loop,
      // would shrink RSS and hide a leak of the same size.
      await poolThroughput(pool, Math.min(10_000, sizes.memoryCalls));
      collectGarbage();
      const before = Deno.memoryUsage();
      await poolThroughput(pool, sizes.memoryCalls);
      collectGarbage();
      const after = Deno.memoryUsage();
      const calls = sizes.memoryCalls.toLocaleString("en-US");
      out.push(emit({
        section: `memory/${target.section}`,
        name: `parent RSS growth over ${calls} warm calls`,
        value: (after.rss - before.rss) / 1e6,
        unit: "MB",
        target: { op: "<=", bound: 10, on: "value" },
      }));
      out.push(emit({
        section: `memory/${target.section}`,
        name: `parent JS heap + external growth over ${calls} warm calls`,
        value: (after.heapUsed + after.external - before.heapUsed - before.external) / 1e6,
        unit: "MB",
      }));
      // Garbage per call: what sets how often a warm call meets a scavenge.
      const ops = Math.min(20_000, sizes.memoryCalls);
      const echoBytes = await allocatedPerOp(
        () => echoLatency(conn!, size, ops).then(() => {}),
        ops,
      );
      const callBytes = await allocatedPerOp(() => poolLatency(pool, ops).then(() => {}), ops);
      out.push(emit({
        section: `memory/${target.section}`,
        name: "parent JS allocated per sequential no-op call (garbage included)",
        value: callBytes,
        unit: "B",
        baseline: { name: "raw echo round trip, same loop", value: echoBytes },
      }));
    }

    const payload = new Uint8Array(sizes.payloadBytes);
    for (let i = 0; i < payload.length; i += 4096) payload[i] = i & 0xff;
    // The call's data movement: the whole argument over, then the whole result
    // back. Its raw analogue is a store-and-forward peer; a streaming echo
    // (both directions at once) is shown for contrast.
    stopBlockPeer = await target.startPeer((listener.addr as Deno.NetAddr).port, {
      BENCH_BLOCK: String(sizes.payloadBytes),
    });
    blockConn = await within(listener.accept(), 60_000, "block peer connect") as Deno.TcpConn;
    blockConn.setNoDelay(true);
    await echoCopy(blockConn, payload);
    await poolPayload(pool, payload);
    const rawMs: number[] = [];
    const streamMs: number[] = [];
    const poolMs: number[] = [];
    for (let r = 0; r < sizes.payloadRounds; r++) {
      rawMs.push(await echoCopy(blockConn, payload));
      streamMs.push(await echoCopy(conn, payload));
      poolMs.push(await poolPayload(pool, payload));
    }
    const mib = sizes.payloadBytes / (1024 * 1024);
    const payloadRate = mib / (median(poolMs) / 1000);
    out.push(emit({
      section,
      name: `${mib} MiB Uint8Array arg + result`,
      value: payloadRate,
      unit: "MiB/s",
      baseline: {
        name: "raw socket copy over and back (store-and-forward peer)",
        value: mib / (median(rawMs) / 1000),
      },
      target: { op: ">=", bound: 0.5 },
    }));
    out.push(emit({
      section,
      name: `${mib} MiB round trip vs streaming echo (contrast)`,
      value: payloadRate,
      unit: "MiB/s",
      baseline: { name: "raw streaming echo", value: mib / (median(streamMs) / 1000) },
    }));
  } finally {
    conn?.close();
    blockConn?.close();
    listener.close();
    await pool.close();
    await stopPeer?.();
    await stopBlockPeer?.();
  }
  return out;
}
