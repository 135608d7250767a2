/**
 * Codec micro benchmark with same-run baselines: JSON (stringify + UTF-8
 * encode, UTF-8 decode + parse) and `node:v8` serialize/deserialize.
 *
 * Run: `deno run -A bench/codec_bench.ts` (`--quick` for fewer rounds).
 *
 * @module
 */

import * as v8 from "node:v8";
import { decodeValue, encodeValue, partsLength } from "../src/protocol/codec.ts";

/** One measured case. */
export interface CodecBenchResult {
  /** What was measured. */
  name: string;
  /** Nanoseconds per operation (best of the rounds). */
  nsPerOp: number;
}

let sink: unknown;

interface Case {
  name: string;
  fn: () => unknown;
  batch: number;
  best: number;
}

/**
 * Measures cases interleaved (round-robin, best round kept) so that noise
 * from other processes hits every case alike and ratios stay meaningful.
 */
function measureGroup(
  cases: [string, () => unknown][],
  opts: { ms: number; rounds: number },
): CodecBenchResult[] {
  const group: Case[] = cases.map(([name, fn]) => ({ name, fn, batch: 1, best: Infinity }));
  for (const c of group) {
    // Warm up, and size a batch to take about `ms` milliseconds.
    for (;;) {
      const t0 = performance.now();
      for (let i = 0; i < c.batch; i++) sink = c.fn();
      const elapsed = performance.now() - t0;
      if (elapsed >= opts.ms / 4) {
        c.batch = Math.max(1, Math.round(c.batch * (opts.ms / Math.max(elapsed, 0.001))));
        break;
      }
      c.batch *= 2;
    }
  }
  for (let r = 0; r < opts.rounds; r++) {
    for (const c of group) {
      const t0 = performance.now();
      for (let i = 0; i < c.batch; i++) sink = c.fn();
      c.best = Math.min(c.best, ((performance.now() - t0) * 1e6) / c.batch);
    }
  }
  return group.map((c) => ({ name: c.name, nsPerOp: c.best }));
}

function join(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(partsLength(parts));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const te = new TextEncoder();
const td = new TextDecoder();

/**
 * Runs the codec benchmark.
 *
 * @param quick Fewer, shorter rounds.
 * @returns Every measured case.
 */
export function runCodecBench(quick = false): CodecBenchResult[] {
  const opts = quick ? { ms: 20, rounds: 5 } : { ms: 40, rounds: 25 };
  const results: CodecBenchResult[] = [];

  const small = { id: 1, name: "thumbnail", ok: true };
  const call = [17, 0, "(a, b) => a + b", 5000, [1, 2]];
  const mixed = {
    id: 7,
    at: new Date(0),
    tags: new Set(["a", "b"]),
    big: 2n ** 70n,
    bytes: new Uint8Array(16),
    missing: undefined,
  };
  for (const [label, value] of [["small", small], ["call", call], ["mixed", mixed]] as const) {
    const ours = join(encodeValue(value));
    const ser = v8.serialize(value);
    const cases: [string, () => unknown][] = [
      [`${label} codec encode`, () => encodeValue(value)],
      [`${label} codec decode`, () => decodeValue(ours)],
      [`${label} codec round trip`, () => decodeValue(join(encodeValue(value)))],
      [`${label} v8 encode`, () => v8.serialize(value)],
      [`${label} v8 decode`, () => v8.deserialize(ser)],
      [`${label} v8 round trip`, () => v8.deserialize(v8.serialize(value))],
    ];
    if (label !== "mixed") {
      const json = te.encode(JSON.stringify(value));
      cases.push(
        [`${label} JSON encode`, () => te.encode(JSON.stringify(value))],
        [`${label} JSON decode`, () => JSON.parse(td.decode(json))],
        [`${label} JSON round trip`, () => JSON.parse(td.decode(te.encode(JSON.stringify(value))))],
      );
    }
    results.push(...measureGroup(cases, opts));
  }

  // 64 MiB: the codec never copies; the floor a transport pays is one memcpy.
  const size = 64 * 1024 * 1024;
  const big = new Uint8Array(size).fill(3);
  const joinedBig = join(encodeValue([1, big]));
  const bigOpts = { ms: quick ? 100 : 300, rounds: quick ? 2 : 5 };
  results.push(...measureGroup([
    // A receiver gets one contiguous payload: the join stands for the copy a socket makes.
    ["64MiB codec round trip (parts joined)", () => decodeValue(join(encodeValue([1, big])))],
    ["64MiB memcpy", () => big.slice()],
    ["64MiB codec encode only", () => encodeValue([1, big])],
    ["64MiB codec decode only", () => decodeValue(joinedBig)],
    ["64MiB v8 round trip", () => v8.deserialize(v8.serialize([1, big]))],
  ], bigOpts));
  return results;
}

function print(results: CodecBenchResult[]): void {
  const by = new Map(results.map((r) => [r.name, r.nsPerOp]));
  const ns = (name: string) => by.get(name)!;
  for (const r of results) {
    if (r.name.startsWith("64MiB") && !r.name.endsWith("only")) {
      const mbps = (64 * 1024 * 1024) / 1e6 / (r.nsPerOp / 1e9);
      console.log(
        `${r.name.padEnd(42)} ${(r.nsPerOp / 1e6).toFixed(2).padStart(9)} ms  ${
          mbps.toFixed(0).padStart(7)
        } MB/s`,
      );
    } else {
      console.log(`${r.name.padEnd(42)} ${r.nsPerOp.toFixed(0).padStart(9)} ns`);
    }
  }
  console.log("\nratios (lower is better for us):");
  for (const label of ["small", "call"]) {
    for (const op of ["encode", "decode", "round trip"]) {
      const ours = ns(`${label} codec ${op}`);
      console.log(
        `${`${label} ${op}`.padEnd(20)} codec/JSON ${
          (ours / ns(`${label} JSON ${op}`)).toFixed(2)
        }×   codec/v8 ${(ours / ns(`${label} v8 ${op}`)).toFixed(2)}×`,
      );
    }
  }
  for (const op of ["encode", "decode", "round trip"]) {
    console.log(
      `${`mixed ${op}`.padEnd(20)} codec/v8 ${
        (ns(`mixed codec ${op}`) / ns(`mixed v8 ${op}`)).toFixed(2)
      }×`,
    );
  }
  console.log(
    `64MiB round trip vs memcpy rate: ${
      (100 * ns("64MiB memcpy") / ns("64MiB codec round trip (parts joined)")).toFixed(0)
    }%`,
  );
}

if (import.meta.main) {
  print(runCodecBench(Deno.args.includes("--quick")));
  if (sink === Symbol.for("never")) console.log(sink);
}
