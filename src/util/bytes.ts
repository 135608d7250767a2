/**
 * Joins byte arrays, shaped like `@std/bytes`'s `concat`; copies and compares
 * a range of bytes without making a view; reads and writes big-endian u32s
 * (frame lengths, call ids).
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

/**
 * Whether `bytes[at, at + known.length)` holds exactly `known` (no view made).
 *
 * @example
 * ```ts
 * import { equalsAt } from "./bytes.ts";
 * console.assert(equalsAt(new Uint8Array([1, 2, 3]), 1, new Uint8Array([2, 3])));
 * ```
 */
export function equalsAt(bytes: Uint8Array, at: number, known: Uint8Array): boolean {
  if (at + known.length > bytes.length) return false;
  for (let i = 0; i < known.length; i++) if (bytes[at + i] !== known[i]) return false;
  return true;
}

/**
 * The big-endian unsigned 32-bit integer at `bytes[at, at + 4)`.
 *
 * @example
 * ```ts
 * import { readUint32BE } from "./bytes.ts";
 * console.assert(readUint32BE(new Uint8Array([0, 0xff, 0, 0, 1]), 1) === 0xff000001);
 * ```
 */
export function readUint32BE(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) +
    bytes[at + 3]!;
}

/**
 * Writes `value`, taken as an unsigned 32-bit integer, big-endian at `target[at, at + 4)`.
 *
 * @example
 * ```ts
 * import { writeUint32BE } from "./bytes.ts";
 * const out = new Uint8Array(4);
 * writeUint32BE(out, 0, 0x01020304);
 * console.assert(out.join() === "1,2,3,4");
 * ```
 */
export function writeUint32BE(target: Uint8Array, at: number, value: number): void {
  const v = value >>> 0;
  target[at] = v >>> 24;
  target[at + 1] = (v >>> 16) & 0xff;
  target[at + 2] = (v >>> 8) & 0xff;
  target[at + 3] = v & 0xff;
}
