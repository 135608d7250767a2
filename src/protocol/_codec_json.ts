/**
 * The value codec's JSON fast path (a scan for JSON-safe data, then
 * `JSON.stringify` into the slab) and the shared encodings of the smallest
 * values (`[]`, `undefined`, `null`, booleans, integers 0-255), which most
 * calls send and receive. The format is described in `codec.ts`.
 *
 * @module
 */

import { FORMAT_JSON, FORMAT_TAGGED, MAX_DEPTH } from "./_codec_format.ts";
import { commit, reserve } from "./_codec_slab.ts";
import { equalsAt } from "../util/bytes.ts";

const utf8Encoder = new TextEncoder();
// Not fatal: a fatal TextDecoder is several times slower; corrupt bytes
// decode to U+FFFD and then usually fail JSON.parse.
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

// Objects met by the current JSON-safety scan (cleared after each scan).
const seen = new Set<object>();
let scanning = false;

/** Whether JSON round-trips `v` exactly (see the module doc). */
function isJsonSafe(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      // Finite, and not -0.
      return v - v === 0 && (v !== 0 || 1 / v > 0);
    case "object":
      break;
    default:
      return false;
  }
  if (v === null) return true;
  if (depth >= MAX_DEPTH || seen.has(v)) return false;
  seen.add(v);
  // JSON.stringify would call a toJSON method, own or inherited.
  if ((v as { toJSON?: unknown }).toJSON !== undefined) return false;
  if (Array.isArray(v)) {
    // A hole reads as undefined, which is refused.
    for (let i = 0; i < v.length; i++) {
      if (!isJsonSafe(v[i], depth + 1)) return false;
    }
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in v) {
    if (!isJsonSafe((v as Record<string, unknown>)[key], depth + 1)) {
      return false;
    }
  }
  return true;
}

function encodeJson(value: unknown): Uint8Array[] {
  const json = JSON.stringify(value);
  const n = json.length;
  if (n > 2048) {
    // Assume ASCII (one byte per code unit) rather than reserve 3 bytes per
    // unit; encode whatever did not fit as a second part.
    const out = new Uint8Array(n + 1);
    out[0] = FORMAT_JSON;
    const { read, written } = utf8Encoder.encodeInto(json, out.subarray(1));
    if (read === n) return [out];
    return [out.subarray(0, 1 + written), utf8Encoder.encode(json.slice(read))];
  }
  const slab = reserve(n * 3 + 1);
  const buf = slab.buf;
  const start = slab.offset;
  buf[start] = FORMAT_JSON;
  // ASCII by hand: for short text this beats TextEncoder's call overhead.
  let p = start + 1;
  let i = 0;
  for (; i < n; i++) {
    const c = json.charCodeAt(i);
    if (c >= 0x80) break;
    buf[p++] = c;
  }
  if (i < n) {
    p = start + 1 +
      utf8Encoder.encodeInto(json, buf.subarray(start + 1, start + 1 + n * 3)).written;
  }
  return [commit(p - start)];
}

/** `[]` as JSON. */
export const EMPTY_ARRAY = new Uint8Array([FORMAT_JSON, 0x5b, 0x5d]);

/** `undefined` as the tagged format writes it (what a function with no `return` gives). */
const UNDEFINED_VALUE = new Uint8Array([FORMAT_TAGGED, 0x01, 0, 0, 0, 0]);

/** Encodings of `0`…`SMALL_INTS - 1`, `true`, `false` and `null`: shared, never written. */
const SMALL_INTS = 256;
const smallValues: Uint8Array[] = [];
for (let i = 0; i < SMALL_INTS; i++) smallValues.push(asciiJson(String(i)));
const TRUE_VALUE = asciiJson("true");
const FALSE_VALUE = asciiJson("false");
const NULL_VALUE = asciiJson("null");

function asciiJson(text: string): Uint8Array {
  const out = new Uint8Array(text.length + 1);
  out[0] = FORMAT_JSON;
  for (let i = 0; i < text.length; i++) out[i + 1] = text.charCodeAt(i);
  return out;
}

/**
 * The shared encoding of a common small result (`undefined`, `null`, a
 * boolean, an integer 0–255), or `undefined`: such a result then costs no
 * scan, no string and no buffer.
 */
export function smallValue(value: unknown): Uint8Array | undefined {
  switch (typeof value) {
    case "undefined":
      return UNDEFINED_VALUE;
    case "boolean":
      return value ? TRUE_VALUE : FALSE_VALUE;
    case "number":
      // Not -0: JSON would lose its sign.
      return value >= 0 && value < SMALL_INTS && Math.floor(value) === value &&
          (value !== 0 || 1 / value > 0)
        ? smallValues[value]
        : undefined;
    case "object":
      return value === null ? NULL_VALUE : undefined;
    default:
      return undefined;
  }
}

/**
 * Reads what {@linkcode smallValue} writes, plus any short non-negative
 * integer, in `bytes[start, end)`.
 *
 * @returns The value, or `NOT_SMALL` when the bytes are anything else.
 */
export function readSmallValue(bytes: Uint8Array, start: number, end: number): unknown {
  const n = end - start;
  const format = bytes[start];
  if (format === FORMAT_JSON) {
    if (n < 2) return NOT_SMALL;
    const c = bytes[start + 1]!;
    if (n === 3 && c === 0x5b && bytes[start + 2] === 0x5d) return [];
    if (c >= 0x30 && c <= 0x39) {
      // An integer below 10^9, as JSON writes it: no leading zero, digits only.
      if (n > 10 || (c === 0x30 && n > 2)) return NOT_SMALL;
      let v = 0;
      for (let i = start + 1; i < end; i++) {
        const d = bytes[i]! - 0x30;
        if (d < 0 || d > 9) return NOT_SMALL;
        v = v * 10 + d;
      }
      return v;
    }
    if (n === 5 && c === 0x74 && equalsAt(bytes, start, TRUE_VALUE)) return true;
    if (n === 6 && c === 0x66 && equalsAt(bytes, start, FALSE_VALUE)) return false;
    if (n === 5 && c === 0x6e && equalsAt(bytes, start, NULL_VALUE)) return null;
    return NOT_SMALL;
  }
  if (n === UNDEFINED_VALUE.length && equalsAt(bytes, start, UNDEFINED_VALUE)) return undefined;
  return NOT_SMALL;
}

export const NOT_SMALL: unique symbol = Symbol("not small");

/** Whether an empty array encodes as the general path would: `Array.prototype`, no `toJSON`. */
export function isPlainArray(a: unknown[]): boolean {
  return Object.getPrototypeOf(a) === Array.prototype &&
    (a as { toJSON?: unknown }).toJSON === undefined;
}

/** Below this many bytes, ASCII text is read by hand: cheaper than a TextDecoder call. */
const SHORT_TEXT = 256;

/** The text of `bytes[start, end)`. */
export function jsonText(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  const view = n === bytes.length ? bytes : bytes.subarray(start, end);
  if (n <= SHORT_TEXT) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, view as unknown as number[]);
  }
  return utf8Decoder.decode(view);
}

/**
 * The JSON encoding of `value` when JSON round-trips it exactly, else
 * `undefined` (also while a scan is running: a getter that encodes a value
 * during the scan gets the tagged encoding).
 */
export function encodeJsonIfSafe(value: unknown): Uint8Array[] | undefined {
  if (scanning) return undefined;
  scanning = true;
  let jsonSafe: boolean;
  try {
    jsonSafe = isJsonSafe(value, 0);
  } finally {
    if (seen.size > 0) seen.clear();
    scanning = false;
  }
  return jsonSafe ? encodeJson(value) : undefined;
}
