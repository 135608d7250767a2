/**
 * The value codec: how call arguments, results and errors cross the wire,
 * with structured-clone semantics and no dependencies.
 *
 * Format. The first byte says which of two encodings follows:
 *
 * - `0x20` JSON: the rest is UTF-8 JSON (the space makes the whole encoding
 *   JSON text, so it decodes without slicing). Used when a scan finds only
 *   JSON-safe data: `null`, booleans, finite numbers other than `-0`,
 *   strings, and arrays without holes and plain objects of those, with no
 *   object reachable twice. `JSON.stringify`/`JSON.parse` are native and
 *   fast, so typical call arguments cost little more than a JSON round trip.
 * - `0x02` tagged: a u32 little-endian body length, the body, then the
 *   sidecar area. The body is one value in a compact tagged form (one tag
 *   byte per value; varints for lengths, counts and int32s; float64 LE for
 *   other numbers; UTF-8 strings, or raw UTF-16 code units for strings with
 *   lone surrogates; tags are listed in `_codec_format.ts`). Every object is numbered in encounter order and a
 *   repeat is a back-reference, so shared references and cycles keep their
 *   identity. Byte arrays (typed arrays, `DataView`s, `ArrayBuffer`s) of at
 *   least 4 KiB are not copied into the body: their bytes follow the body in
 *   order, each aligned (relative to the start of the encoding) to its
 *   element size, and `encodeValue` returns them as separate parts that view
 *   the caller's memory. Smaller ones are copied inline.
 *
 * No object key is ever used as a marker, so user data cannot collide with
 * the format. Typed-array contents are in the platform's byte order (little
 * endian on every platform Deno supports).
 *
 * Differences from `structuredClone`: instances of classes other than the
 * built-in value types are refused (`structuredClone` would silently turn
 * them into plain objects); non-index properties of arrays, and own
 * properties of errors other than name, message, stack and cause are
 * dropped; two views of one buffer arrive as views of two buffers; error
 * names other than the built-in constructors' arrive as an `Error` whose
 * `name` is set. Array holes are preserved. Nesting is limited to 1000
 * levels.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import { CloneFailure, TaggedEncoder } from "./_codec_encode.ts";
import { TaggedDecoder } from "./_codec_decode.ts";
import { FORMAT_JSON, FORMAT_TAGGED, MAX_DEPTH } from "./_codec_format.ts";
import { commit, reserve } from "./_codec_slab.ts";
import { equalsAt } from "../util/bytes.ts";

/**
 * Thrown by {@linkcode encodeValue} (before anything is sent) when a value
 * cannot cross the wire: a function, a symbol, an instance of a class, a
 * `WeakMap`, a `Promise`, a socket… The message names the offending path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DataCloneError, encodeValue } from "./codec.ts";
 * assert.throws(() => encodeValue({ handler: () => {} }), DataCloneError);
 * assert.throws(
 *   () => encodeValue([1, { handler: () => {} }]),
 *   { message: 'Cannot clone value at "[1].handler": functions cannot cross the wire' },
 * );
 * ```
 */
export class DataCloneError extends Error {
  /**
   * Creates the error.
   *
   * @param message What cannot be cloned, and where.
   * @param options Standard error options (`cause`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DataCloneError, LocalBackend, Pool } from "@flame/docker";
   *
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
   * const sent = pool.call((options: { onDone: () => void }) => typeof options, [{ onDone() {} }]);
   * await assert.rejects(sent, DataCloneError);
   * assert.equal(new DataCloneError("Cannot clone value").name, "DataCloneError");
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataCloneError";
  }
}

const utf8Encoder = new TextEncoder();
// Not fatal: a fatal TextDecoder is several times slower; corrupt bytes
// decode to U+FFFD and then usually fail JSON.parse.
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

// Objects met by the current JSON-safety scan (cleared after each scan).
const seen = new Set<object>();
let scanning = false;
const encoder = new TaggedEncoder();

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
const EMPTY_ARRAY = new Uint8Array([FORMAT_JSON, 0x5b, 0x5d]);

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
function smallValue(value: unknown): Uint8Array | undefined {
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
function readSmallValue(bytes: Uint8Array, start: number, end: number): unknown {
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

const NOT_SMALL = Symbol("not small");

/** Whether an empty array encodes as the general path would: `Array.prototype`, no `toJSON`. */
function isPlainArray(a: unknown[]): boolean {
  return Object.getPrototypeOf(a) === Array.prototype &&
    (a as { toJSON?: unknown }).toJSON === undefined;
}

/** Below this many bytes, ASCII text is read by hand: cheaper than a TextDecoder call. */
const SHORT_TEXT = 256;

/** The text of `bytes[start, end)`. */
function jsonText(bytes: Uint8Array, start: number, end: number): string {
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

function formatPath(segments: readonly string[]): string {
  let path = "";
  for (let i = segments.length - 1; i >= 0; i--) path += segments[i];
  // A leading property access reads better without its dot ("args[1]").
  return path.startsWith(".") && !path.startsWith(".get(") ? path.slice(1) : path;
}

/**
 * Encodes a value for the wire, with structured-clone semantics (see the
 * module doc for the format and the few differences).
 *
 * The encoding is the concatenation of the returned parts. Byte arrays of
 * 4 KiB or more are not copied: a part may be a view of the caller's memory,
 * so the caller must not modify such a buffer until the parts are written.
 *
 * @param value The value: primitives (including `undefined`, `NaN`, `-0`,
 * BigInt), plain objects, arrays, `Map`, `Set`, `Date`, `RegExp`,
 * `ArrayBuffer`, typed arrays, `DataView`, `Error`, boxed primitives, nested
 * in any way, with shared references and cycles.
 * @param options `name`: what to call the value in error messages (e.g. `"args"` gives paths like `"args[1].x"`).
 * @returns The parts of the encoding, in order.
 * @throws {DataCloneError} When something in `value` cannot cross the wire.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeValue, encodeValue, partsLength } from "./codec.ts";
 * const value = { id: 7, tags: new Set(["a"]), at: new Date(0), big: 2n ** 70n };
 * const parts = encodeValue(value);
 * const bytes = new Uint8Array(partsLength(parts));
 * let offset = 0;
 * for (const part of parts) {
 *   bytes.set(part, offset);
 *   offset += part.length;
 * }
 * const copy = decodeValue(bytes) as typeof value;
 * assert.deepEqual(copy, value);
 * ```
 */
export function encodeValue(value: unknown, options?: { name?: string }): Uint8Array[] {
  // The arguments of most calls and the most common results: shared bytes
  // (parts are only ever read).
  if (Array.isArray(value) && value.length === 0 && isPlainArray(value)) return [EMPTY_ARRAY];
  const small = smallValue(value);
  if (small !== undefined) return [small];
  if (!scanning) {
    scanning = true;
    let jsonSafe: boolean;
    try {
      jsonSafe = isJsonSafe(value, 0);
    } finally {
      if (seen.size > 0) seen.clear();
      scanning = false;
    }
    if (jsonSafe) return encodeJson(value);
  }
  // A getter that calls encodeValue while we encode gets its own encoder.
  const enc = encoder.busy ? new TaggedEncoder() : encoder;
  try {
    return enc.encode(value);
  } catch (err) {
    if (!(err instanceof CloneFailure)) throw err;
    const inner = formatPath(err.segments);
    const root = options?.name ?? "";
    const path = root === "" || inner === "" || inner.startsWith("[") || inner.startsWith(".get(")
      ? root + inner
      : `${root}.${inner}`;
    throw new DataCloneError(
      path === ""
        ? `Cannot clone value: ${err.reason}`
        : `Cannot clone value at "${path}": ${err.reason}`,
    );
  }
}

/**
 * Total byte length of encoded parts.
 *
 * @param parts Parts returned by {@linkcode encodeValue}.
 * @returns The sum of their lengths.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeValue, partsLength } from "./codec.ts";
 * assert.equal(partsLength(encodeValue("hi")), 5); // format byte + `"hi"`
 * ```
 */
export function partsLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (let i = 0; i < parts.length; i++) n += parts[i]!.byteLength;
  return n;
}

/**
 * Decodes one value from exactly these bytes (the concatenated parts of one
 * {@linkcode encodeValue} result).
 *
 * Decoded typed arrays and `DataView`s are views into `bytes` (zero copy)
 * when suitably aligned, so the caller must not reuse `bytes` afterwards;
 * with `copyBytes` they are copies (for input in a buffer shared with other
 * data). `ArrayBuffer`s are always copies.
 *
 * @param bytes The encoding.
 * @param copyBytes Copy typed arrays out of `bytes` instead of viewing it.
 * @returns The value.
 * @throws {ProtocolError} When the bytes are not a well-formed encoding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeValue, encodeValue } from "./codec.ts";
 * const [header, payload] = encodeValue(new Uint8Array(8192).fill(1));
 * const bytes = new Uint8Array(header!.length + payload!.length);
 * bytes.set(header!);
 * bytes.set(payload!, header!.length);
 * const copy = decodeValue(bytes) as Uint8Array;
 * assert.equal(copy.length, 8192);
 * assert.equal(copy.buffer, bytes.buffer); // a view: no copy
 * ```
 */
export function decodeValue(bytes: Uint8Array, copyBytes = false): unknown {
  return decodeValueAt(bytes, 0, bytes.length, copyBytes);
}

/**
 * {@linkcode decodeValue} of `bytes[start, end)`, without making a view of
 * that range first (most messages carry a short value after a header).
 *
 * @param bytes Holds the encoding.
 * @param start Index of its first byte.
 * @param end Index after its last byte.
 * @param copyBytes Copy typed arrays out of `bytes` instead of viewing it.
 * @returns The value.
 * @throws {ProtocolError} When the bytes are not a well-formed encoding.
 */
export function decodeValueAt(
  bytes: Uint8Array,
  start: number,
  end: number,
  copyBytes = false,
): unknown {
  const format = start < end ? bytes[start] : undefined;
  if (format === FORMAT_JSON || format === FORMAT_TAGGED) {
    const small = readSmallValue(bytes, start, end);
    if (small !== NOT_SMALL) return small;
  }
  if (format === FORMAT_JSON) {
    try {
      // The format byte is a space: the whole encoding is JSON text.
      return JSON.parse(jsonText(bytes, start, end));
    } catch (err) {
      throw new ProtocolError("Cannot decode value: malformed JSON", {
        cause: err,
      });
    }
  }
  if (format === FORMAT_TAGGED) {
    const view = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
    try {
      return new TaggedDecoder(view, copyBytes).decode();
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      throw new ProtocolError("Cannot decode value: malformed input", {
        cause: err,
      });
    }
  }
  if (format === undefined) {
    throw new ProtocolError("Cannot decode value: empty input");
  }
  throw new ProtocolError(
    `Cannot decode value: unknown format byte 0x${format.toString(16).padStart(2, "0")}`,
  );
}
