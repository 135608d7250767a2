/**
 * A small seeded pseudo-random generator for deterministic randomized tests.
 *
 * @module
 */

/**
 * Mulberry32: a fast 32-bit PRNG. The same seed always yields the same
 * sequence, so a failing randomized test can be replayed from its seed.
 *
 * @param seed Any 32-bit integer.
 * @returns A function returning floats in [0, 1).
 *
 * @example
 * ```ts
 * import { mulberry32 } from "./prng.ts";
 * const a = mulberry32(42), b = mulberry32(42);
 * console.assert(a() === b());
 * ```
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
