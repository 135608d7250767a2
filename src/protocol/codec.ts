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
import { FORMAT_JSON, FORMAT_TAGGED } from "./_codec_format.ts";
import {
  EMPTY_ARRAY,
  encodeJsonIfSafe,
  isPlainArray,
  jsonText,
  NOT_SMALL,
  readSmallValue,
  smallValue,
} from "./_codec_json.ts";

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

const encoder = new TaggedEncoder();

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
  const json = encodeJsonIfSafe(value);
  if (json !== undefined) return json;
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
