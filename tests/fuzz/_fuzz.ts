/**
 * A small seeded fuzzer: random inputs (raw bytes, or sequences of a
 * target's tokens) and mutations of valid encodings (bit flips, byte sets,
 * inserts, deletes, duplications, splices, token inserts, boundary values).
 * Every input derives from one 32-bit seed, so a failure prints its seed and
 * `FLAME_FUZZ_REPLAY=<target>:<seed>` replays exactly that input.
 */

import assert from "node:assert/strict";
import { concat } from "../../src/util/bytes.ts";
import { mulberry32 } from "../_helpers/prng.ts";

/** What to fuzz. */
export interface FuzzTarget {
  /** Name in reports and in `FLAME_FUZZ_REPLAY`. */
  name: string;
  /** Valid encodings to mutate. */
  corpus: readonly Uint8Array[];
  /** Pieces that random inputs are built from (besides raw bytes). */
  tokens: readonly Uint8Array[];
  /** Largest random input. */
  maxLength: number;
  /** Feeds one input; may throw only what `allowed` accepts. `random` drives splits. */
  run(input: Uint8Array, random: () => number): void;
  /** Whether a thrown value is one of the documented, typed errors. */
  allowed(err: unknown): boolean;
}

/** What one fuzz run saw. */
export interface FuzzReport {
  inputs: number;
  random: number;
  mutated: number;
  rejected: number;
  slowestMs: number;
  elapsedMs: number;
}

/** Most time one input may take before it counts as a hang (generous: CI machines are shared). */
const HANG_MS = 1000;

const encoder = new TextEncoder();

/** UTF-8 bytes of each string. */
export function tokens(...texts: string[]): Uint8Array[] {
  return texts.map((t) => encoder.encode(t));
}

const BOUNDARY = [0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x30, 0x3a];

/** The input for one seed: random (even seeds) or a mutation of the corpus (odd seeds). */
export function inputFor(target: FuzzTarget, seed: number): Uint8Array {
  const random = mulberry32(seed);
  const int = (n: number) => Math.floor(random() * n);
  if ((seed & 1) === 0 || target.corpus.length === 0) {
    if (random() < 0.4) {
      const out = new Uint8Array(int(target.maxLength + 1));
      for (let i = 0; i < out.length; i++) out[i] = int(256);
      return out;
    }
    const parts: Uint8Array[] = [];
    let length = 0;
    const want = int(target.maxLength + 1);
    while (length < want) {
      const part = random() < 0.8
        ? target.tokens[int(target.tokens.length)]!
        : Uint8Array.of(int(256));
      parts.push(part);
      length += part.length;
    }
    return concat(parts);
  }
  let bytes: Uint8Array = target.corpus[int(target.corpus.length)]!.slice();
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    const at = int(bytes.length + 1);
    switch (int(8)) {
      case 0:
        if (bytes.length > 0) bytes[at % bytes.length]! ^= 1 << int(8);
        break;
      case 1:
        if (bytes.length > 0) bytes[at % bytes.length] = int(256);
        break;
      case 2:
        if (bytes.length > 0) bytes[at % bytes.length] = BOUNDARY[int(BOUNDARY.length)]!;
        break;
      case 3: {
        const insert = Uint8Array.from({ length: 1 + int(8) }, () => int(256));
        bytes = concat([bytes.subarray(0, at), insert, bytes.subarray(at)]);
        break;
      }
      case 4: {
        const end = Math.min(bytes.length, at + 1 + int(16));
        bytes = concat([bytes.subarray(0, at), bytes.subarray(end)]);
        break;
      }
      case 5: {
        const end = Math.min(bytes.length, at + 1 + int(32));
        bytes = concat([bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end)]);
        break;
      }
      case 6: {
        const other = target.corpus[int(target.corpus.length)]!;
        const from = int(other.length + 1);
        bytes = concat([bytes.subarray(0, at), other.subarray(from)]);
        break;
      }
      default: {
        const token = target.tokens[int(target.tokens.length)]!;
        bytes = concat([bytes.subarray(0, at), token, bytes.subarray(at)]);
      }
    }
  }
  return bytes;
}

/** Cuts `bytes` into 1–4 random pieces (each a copy). */
export function split(bytes: Uint8Array, random: () => number): Uint8Array[] {
  const pieces = 1 + Math.floor(random() * 4);
  const cuts = Array.from({ length: pieces - 1 }, () => Math.floor(random() * (bytes.length + 1)))
    .sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(bytes.slice(from, cut));
    from = cut;
  }
  return out;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err);
}

/**
 * Runs `count` random and `count` mutated inputs through the target (or only
 * the input named by `FLAME_FUZZ_REPLAY`), and throws naming the seed of the
 * first input that throws an undocumented error or takes too long.
 *
 * @param target What to fuzz.
 * @param count Inputs of each kind.
 * @param base Base seed (`FLAME_FUZZ_SEED` overrides it).
 * @param file This test file, for the replay hint.
 */
export function fuzz(target: FuzzTarget, count: number, base: number, file: string): FuzzReport {
  const replay = Deno.env.get("FLAME_FUZZ_REPLAY");
  const seeds: number[] = [];
  if (replay !== undefined) {
    const [name, seed] = replay.split(":");
    if (name === target.name) seeds.push(Number(seed) >>> 0);
  } else {
    const start = Number(Deno.env.get("FLAME_FUZZ_SEED") ?? base) >>> 0;
    // Seed parity picks the kind: count of each.
    for (let i = 0; i < 2 * count; i++) seeds.push((start + i) >>> 0);
  }
  const report: FuzzReport = {
    inputs: 0,
    random: 0,
    mutated: 0,
    rejected: 0,
    slowestMs: 0,
    elapsedMs: 0,
  };
  const started = performance.now();
  for (const seed of seeds) {
    const input = inputFor(target, seed);
    const random = mulberry32(seed ^ 0x9e3779b9);
    const t0 = performance.now();
    try {
      target.run(input, random);
    } catch (err) {
      if (!target.allowed(err)) {
        throw new Error(
          `Fuzz target "${target.name}" threw an undocumented error on seed ${seed} (${input.length} bytes: ${
            JSON.stringify(new TextDecoder().decode(input.slice(0, 120)))
          }); replay: FLAME_FUZZ_REPLAY=${target.name}:${seed} deno test -A ${file}\n${
            describe(err)
          }`,
        );
      }
      report.rejected++;
    }
    const ms = performance.now() - t0;
    if (ms > report.slowestMs) report.slowestMs = ms;
    if (ms > HANG_MS) {
      throw new Error(
        `Fuzz target "${target.name}" took ${
          ms.toFixed(0)
        } ms on seed ${seed}; replay: FLAME_FUZZ_REPLAY=${target.name}:${seed} deno test -A ${file}`,
      );
    }
    report.inputs++;
    if ((seed & 1) === 0) report.random++;
    else report.mutated++;
  }
  report.elapsedMs = performance.now() - started;
  if (replay === undefined) {
    console.log(
      `  fuzz ${target.name}: ${report.inputs} inputs (${report.random} random, ${report.mutated} mutated), ${report.rejected} rejected with typed errors, 0 crashes; slowest input ${
        report.slowestMs.toFixed(1)
      } ms; ${(report.elapsedMs / 1000).toFixed(1)} s`,
    );
  } else {
    console.log(`  fuzz ${target.name}: replayed ${report.inputs} input(s) from ${replay}`);
  }
  return report;
}

/** How a fuzz test is named and seeded. */
export interface FuzzTestOptions {
  /** What is fuzzed, in the test name. */
  what: string;
  /** Random inputs, and as many mutated ones. */
  count: number;
  /** The seed base (each target its own). */
  base: number;
  /** This file, for the replay hint. */
  file: string;
  /** The only error the target may throw, in the test name. */
  errorName: string;
}

/**
 * Defines one fuzz test: the valid corpus decodes (or fails only with the allowed
 * error), then `count` random and `count` mutated inputs run.
 */
export function defineFuzzTest(target: FuzzTarget, options: FuzzTestOptions): void {
  const { what, count, base, file, errorName } = options;
  Deno.test(`fuzz: ${what}, ${count} random + ${count} mutated inputs, only ${errorName}`, () => {
    for (const valid of target.corpus) {
      try {
        target.run(valid, () => 0.5);
      } catch (err) {
        if (!target.allowed(err)) throw err;
      }
    }
    const report = fuzz(target, count, base, file);
    if (Deno.env.get("FLAME_FUZZ_REPLAY") === undefined) {
      assert.equal(report.random, count);
      assert.equal(report.mutated, count);
    }
  });
}

/**
 * One {@linkcode defineFuzzTest} per parser in `targets`, named "<target> parser",
 * each with its own seeds: `base`, `base + 0x1000000`, and so on.
 */
export function defineParserFuzzTests(
  targets: readonly FuzzTarget[],
  options: Omit<FuzzTestOptions, "what">,
): void {
  for (const [i, target] of targets.entries()) {
    defineFuzzTest(target, {
      ...options,
      what: `${target.name} parser`,
      base: options.base + i * 0x1000000,
    });
  }
}
