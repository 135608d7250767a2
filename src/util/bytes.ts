/**
 * Joins byte arrays, shaped like `@std/bytes`'s `concat`, and copies a range of
 * bytes the cheap way for its size.
 *
 * @module
 */

/**
 * Concatenates byte arrays into a new one.
 *
 * @param parts The arrays, in order.
 * @returns A new array holding all their bytes.
 *
 * @example
 * ```ts
 * import { concat } from "./bytes.ts";
 * console.assert(concat([new Uint8Array([1]), new Uint8Array([2, 3])]).join() === "1,2,3");
 * ```
 */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Up to this many bytes, a loop beats making a view for `set()`. */
const LOOP_COPY_MAX = 64;

/**
 * Copies `source[start, end)` into `target` at `at`: byte by byte when short
 * (no view made), with `set()` otherwise.
 *
 * @param target Where to write.
 * @param at The index of the first byte written.
 * @param source Where to read.
 * @param start The first byte read.
 * @param end After the last byte read.
 *
 * @example
 * ```ts
 * import { copyBytes } from "./bytes.ts";
 * const out = new Uint8Array(4);
 * copyBytes(out, 1, new Uint8Array([7, 8, 9]), 1, 3);
 * console.assert(out.join() === "0,8,9,0");
 * ```
 */
export function copyBytes(
  target: Uint8Array,
  at: number,
  source: Uint8Array,
  start: number,
  end: number,
): void {
  const n = end - start;
  if (n <= LOOP_COPY_MAX) {
    for (let i = 0; i < n; i++) target[at + i] = source[start + i]!;
  } else {
    target.set(start === 0 && end === source.length ? source : source.subarray(start, end), at);
  }
}
