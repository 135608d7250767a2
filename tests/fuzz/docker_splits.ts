/**
 * Ways to deliver a byte string in pieces, for testing the Docker client's
 * incremental parsers on every split.
 *
 * @module
 */

import { mulberry32 } from "../_helpers/prng.ts";

/**
 * Every way to cut `bytes` into at most three pieces (no cut, every single
 * cut position, every pair of cut positions).
 *
 * @param bytes The input.
 * @returns Each delivery as a list of pieces.
 */
export function* everySplit(bytes: Uint8Array): Generator<Uint8Array[]> {
  yield [bytes];
  for (let a = 1; a < bytes.length; a++) {
    yield [bytes.subarray(0, a), bytes.subarray(a)];
  }
  for (let a = 1; a < bytes.length; a++) {
    for (let b = a + 1; b < bytes.length; b++) {
      yield [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)];
    }
  }
}

/**
 * Cuts `bytes` into random pieces (sizes from 1 byte to `maxPiece`, biased
 * to small), each piece a copy so parsers cannot rely on adjacency.
 *
 * @param bytes The input.
 * @param seed Seed of the generator (print it on failure).
 * @param maxPiece Largest piece.
 * @returns The pieces.
 */
export function randomSplit(bytes: Uint8Array, seed: number, maxPiece = 64): Uint8Array[] {
  const random = mulberry32(seed);
  const pieces: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const size = 1 + Math.floor(random() ** 2 * maxPiece);
    pieces.push(bytes.slice(offset, offset + size));
    offset += size;
  }
  return pieces;
}

/**
 * Runs `check` for `count` seeds derived from `base`; a failure names its seed.
 *
 * @param count How many seeds.
 * @param base First seed.
 * @param check The property to check for one seed.
 */
export function forSeeds(count: number, base: number, check: (seed: number) => void): void {
  for (let i = 0; i < count; i++) {
    const seed = (base + i * 0x9e3779b1) >>> 0;
    try {
      check(seed);
    } catch (error) {
      throw new Error(`Failed with seed ${seed}: ${(error as Error).message}`, { cause: error });
    }
  }
}

export { concat } from "../../src/util/bytes.ts";

/**
 * Encodes text as UTF-8.
 *
 * @param text The text.
 * @returns Its bytes.
 */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
