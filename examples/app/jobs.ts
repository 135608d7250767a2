/**
 * The work the example app sends to its runners: plain functions and an
 * async generator, called through `pool.module()` and typed end to end. The
 * runner imports this same file from the same image.
 *
 * @module
 */

import type { CallContext } from "@flame/docker";

/**
 * The primes up to `limit` (a sieve of Eratosthenes), and the runner that found them.
 *
 * @param limit The largest number to test.
 * @returns How many primes there are, the largest, and the runner's id.
 */
export function primes(
  this: CallContext,
  limit: number,
): { count: number; largest: number; runner: string } {
  const composite = new Uint8Array(limit + 1);
  let count = 0;
  let largest = 0;
  for (let n = 2; n <= limit; n++) {
    if (composite[n]) continue;
    count++;
    largest = n;
    for (let m = n * n; m <= limit; m += n) composite[m] = 1;
  }
  return { count, largest, runner: this.runnerId };
}

/**
 * Counts down from `from` to 1, one value at a time (streamed back with back-pressure).
 *
 * @param from Where to start.
 * @returns The numbers, as they are made.
 */
export async function* countdown(from: number): AsyncGenerator<number> {
  for (let n = from; n > 0; n--) yield n;
}
