/**
 * Messages between parent and runner: one frame each, the frame type says
 * which. A call's payload is a binary header (id, timeout), the target and
 * the codec-encoded arguments; a result's or stream chunk's is the call id
 * (u32) and the codec-encoded value; every other payload is a codec-encoded
 * array.
 *
 * @module
 */

import { commit, reserve } from "./_codec_slab.ts";
import { decodeValue, decodeValueAt, encodeValue } from "./codec.ts";
import { ProtocolError } from "./errors.ts";
import { equalsAt, readUint32BE, writeUint32BE } from "../util/bytes.ts";

/** Frame types. Handshake types come first; the rest need an authenticated link. */
export const FrameType = {
  Hello: 1,
  Challenge: 2,
  Proof: 3,
  Welcome: 4,
  /** parent → runner: run something. */
  Call: 10,
  /** runner → parent: a call's value. */
  Result: 11,
  /** runner → parent: a call threw. */
  Error: 12,
  /** parent → runner: stop a call (timeout, abort, early `break`). */
  Cancel: 13,
  /** runner → parent: the call returned an async iterable; this is one value. */
  StreamChunk: 14,
  /** runner → parent: the stream ended. */
  StreamEnd: 15,
  /** parent → runner: credit for `n` more stream values (back-pressure). */
  StreamPull: 16,
  Ping: 20,
  Pong: 21,
  /** parent → runner: finish or cancel in-flight work within `graceMs`, then exit. */
  Shutdown: 22,
  /** parent → runner: a code artifact follows, `{ hash, size }` as JSON (code sync). */
  CodeBegin: 30,
  /** parent → runner: the next bytes of the artifact begun. */
  CodeChunk: 31,
  /** parent → runner: the artifact is complete: verify and store it. */
  CodeEnd: 32,
} as const;

/** The scheme of code-sync artifact specifiers (`flame-code:<sha256 hex>`) in call targets. */
export const CODE_SCHEME = "flame-code:";

/** What a call runs: shipped function source, or a module export. */
export type CallTarget =
  | { kind: "fn"; source: string }
  | { kind: "module"; specifier: string; name: string };

/** A call request. */
export interface CallMessage {
  /** Call id, unique per link. */
  id: number;
  /** What to run. */
  target: CallTarget;
  /** The arguments. */
  args: unknown[];
  /** Milliseconds the runner lets it run before aborting it (`0`: no limit). */
  timeout: number;
  /** Which attempt this is (1 the first; a retried call counts up). @default {1} */
  attempt?: number;
}

/** An error as it crosses the wire. */
export interface WireError {
  /** The error's `name`. */
  name: string;
  /** The error's `message`. */
  message: string;
  /** The remote stack, if any. */
  stack?: string;
  /** The cause, serialized the same way. */
  cause?: WireError | { value: unknown };
  /**
   * Set only by the runner itself, never from a thrown error: the call's
   * result (or a stream value) encoded to `size` bytes, over the frame limit
   * `limit`, so it was not sent (see {@linkcode checkResultSize}).
   */
  tooLarge?: { size: number; limit: number };
}

/**
 * Stream values a runner may send ahead of the consumer: it starts with this
 * much credit and the parent grants more (`StreamPull`) as values are consumed.
 */
export const STREAM_WINDOW = 16;

/** Largest frame payload on an authenticated link, both directions (1 GiB). */
export const LINK_MAX_PAYLOAD = 1024 * 1024 * 1024;

/**
 * Total bytes of `parts`.
 *
 * @param parts Payload parts.
 * @returns Their summed length.
 */
export function byteLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (let i = 0; i < parts.length; i++) n += parts[i]!.length;
  return n;
}

/** Options for {@linkcode checkResultSize}. */
export interface CheckResultSizeOptions {
  /** Bytes sent before `parts` in the same frame (a head passed to `send` apart). @default {0} */
  head?: number;
  /** The value is one value of a stream, not a call's result. @default {false} */
  stream?: boolean;
  /** The largest payload the parent accepts. @default {LINK_MAX_PAYLOAD} */
  limit?: number;
}

/**
 * The runner's guard against a frame the parent would refuse (which would
 * end the link and fail every call on it): when the payload of a result or
 * stream chunk exceeds the frame limit, it returns the payload of an
 * `Error` frame to send instead; the parent rejects the call with a
 * `PayloadTooLargeError` naming the size and the limit.
 *
 * @param id The call id.
 * @param parts The payload parts about to be sent (as passed to `send`).
 * @param options A head sent apart, whether it is a stream value, the limit.
 * @returns The `Error` frame's payload to send instead, or `undefined` when the size is fine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkResultSize, decodeError, RESULT_HEADER_SIZE } from "./messages.ts";
 * import { encodeValue } from "./codec.ts";
 *
 * const parts = encodeValue(new Uint8Array(100));
 * assert.equal(checkResultSize(7, parts, { head: RESULT_HEADER_SIZE }), undefined);
 * const instead = checkResultSize(7, parts, { head: RESULT_HEADER_SIZE, limit: 64 })!;
 * const [id, wire] = decodeError(instead[0]!);
 * assert.equal(id, 7);
 * assert.equal(wire.name, "PayloadTooLargeError");
 * assert.equal(wire.tooLarge?.limit, 64);
 * ```
 */
export function checkResultSize(
  id: number,
  parts: readonly Uint8Array[],
  options: CheckResultSizeOptions = {},
): Uint8Array[] | undefined {
  const limit = options.limit ?? LINK_MAX_PAYLOAD;
  const size = (options.head ?? 0) + byteLength(parts);
  if (size <= limit) return undefined;
  const what = options.stream ? "a stream value" : "the result";
  const wire: WireError = {
    name: "PayloadTooLargeError",
    message:
      `Cannot return ${what}: it encodes to ${size} bytes, over the link's frame limit of ${limit} bytes; return less per call (split the work, or yield parts from an async generator)`,
    tooLarge: { size, limit },
  };
  return encodeValue([id, wire]);
}

/** Bytes before a call's body: id (u32) and timeout in ms (u32, 0 = none). */
export const CALL_HEADER_SIZE = 12;

/** Bytes before a result's or stream chunk's value: the call id (u32). */
export const RESULT_HEADER_SIZE = 4;

/** What a value that cannot cross is called in the error (shared, only read). */
const ARGS_NAME = { name: "args" } as const;
/** Results and stream chunks: `Cannot clone value at "result…"`. */
export const RESULT_NAME = { name: "result" } as const;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * Encodes what to run and the arguments, once, before a runner is chosen: an
 * argument that cannot cross throws `DataCloneError` (naming it, e.g.
 * `"args[1]"`) before anything is sent or booted.
 *
 * Layout: kind (u8: 0 function source, 1 module export), text length (u32),
 * text (UTF-8 source or specifier), name length (u16), export name, then the
 * codec-encoded arguments array.
 *
 * @param target What to run.
 * @param args The arguments.
 * @returns The body parts (read-only: an argument-less body is shared); send them after
 * {@linkcode encodeCallHeader}.
 */
export function encodeCallBody(
  target: CallTarget,
  args: readonly unknown[],
): readonly Uint8Array[] {
  const argParts = encodeValue(args, ARGS_NAME);
  const head = callHead(target);
  if (argParts.length === 1) {
    const only = argParts[0]!;
    // No arguments: one shared body per target (callers only read it).
    if (only === EMPTY_ARGS_PART) return noArgsBody(head);
    return [head, only];
  }
  return [head, ...argParts];
}

/** `encodeValue([])`'s one part: shared bytes, never written. */
const EMPTY_ARGS_PART = encodeValue([])[0]!;
const noArgsBodies = new WeakMap<Uint8Array, readonly Uint8Array[]>();

function noArgsBody(head: Uint8Array): readonly Uint8Array[] {
  let body = noArgsBodies.get(head);
  if (body === undefined) {
    body = Object.freeze([head, EMPTY_ARGS_PART]);
    noArgsBodies.set(head, body);
  }
  return body;
}

/** Encoded heads of recent targets: a pool calls the same few functions again and again. */
const heads = new Map<string, Uint8Array>();
const HEADS_LIMIT = 256;

function callHead(target: CallTarget): Uint8Array {
  const key = target.kind === "fn" ? target.source : `${target.name}\0${target.specifier}`;
  let head = heads.get(key);
  if (head !== undefined && head[0] === (target.kind === "fn" ? 0 : 1)) return head;
  const text = textEncoder.encode(target.kind === "fn" ? target.source : target.specifier);
  const name = textEncoder.encode(target.kind === "fn" ? "" : target.name);
  if (name.length > 0xffff) throw new RangeError("Cannot call: the export name is too long");
  head = new Uint8Array(7 + text.length + name.length);
  const view = new DataView(head.buffer);
  head[0] = target.kind === "fn" ? 0 : 1;
  view.setUint32(1, text.length);
  head.set(text, 5);
  view.setUint16(5 + text.length, name.length);
  head.set(name, 7 + text.length);
  // Shared by every call with this target, so never written to after this.
  if (heads.size >= HEADS_LIMIT) heads.delete(heads.keys().next().value!);
  heads.set(key, head);
  return head;
}

/**
 * Encodes the per-send part of a call.
 *
 * @param id The call id.
 * @param timeout Milliseconds the runner allows (`0`: no limit; capped at 2^32-1).
 * @returns The 8 header bytes.
 */
export function encodeCallHeader(id: number, timeout: number, attempt = 1): Uint8Array {
  // From the shared slab: a fresh small typed array costs more than the call's encoding.
  const { buf, offset } = reserve(CALL_HEADER_SIZE);
  writeCallHeader(buf, offset, id, timeout, attempt);
  return commit(CALL_HEADER_SIZE);
}

/**
 * Writes the per-send part of a call into `target` at `offset`.
 *
 * @param target Where to write ({@linkcode CALL_HEADER_SIZE} bytes).
 * @param offset The index of the first byte.
 * @param id The call id.
 * @param timeout Milliseconds the runner allows (`0`: no limit; capped at 2^32-1).
 * @param attempt Which attempt this is (1 the first).
 */
export function writeCallHeader(
  target: Uint8Array,
  offset: number,
  id: number,
  timeout: number,
  attempt = 1,
): void {
  const t = Number.isFinite(timeout) ? Math.min(Math.max(0, Math.ceil(timeout)), 0xffffffff) : 0;
  writeUint32BE(target, offset, id);
  writeUint32BE(target, offset + 4, t);
  writeUint32BE(target, offset + 8, attempt);
}

function fail(what: string): never {
  throw new ProtocolError(`Malformed ${what} message`);
}

/** Recently decoded call texts by byte length: a runner sees the same few functions again and again. */
const texts = new Map<number, { bytes: Uint8Array; text: string }>();
const TEXTS_LIMIT = 64;
const TEXT_CACHE_MAX = 16 * 1024;

/**
 * Decodes the UTF-8 in `bytes[start, end)`, answering a repeat of a recent
 * text without decoding (or a new string, or a view).
 */
function callText(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n > TEXT_CACHE_MAX) return textDecoder.decode(bytes.subarray(start, end));
  const hit = texts.get(n);
  if (hit !== undefined && equalsAt(bytes, start, hit.bytes)) return hit.text;
  const own = bytes.slice(start, end);
  const text = textDecoder.decode(own);
  if (texts.size >= TEXTS_LIMIT) texts.clear();
  texts.set(n, { bytes: own, text });
  return text;
}

/**
 * Decodes a call payload.
 *
 * @param payload The frame payload.
 * @param shared Whether `payload` lives in a buffer shared with other frames
 * (then decoded byte arrays are copies).
 * @returns The call.
 * @throws {ProtocolError} When it is not a well-formed call.
 */
export function decodeCall(payload: Uint8Array, shared = false): CallMessage {
  if (payload.length < CALL_HEADER_SIZE + 7) fail("call");
  const id = readUint32BE(payload, 0);
  const timeout = readUint32BE(payload, 4);
  const attempt = readUint32BE(payload, 8) || 1;
  const kind = payload[CALL_HEADER_SIZE];
  const textLength = readUint32BE(payload, CALL_HEADER_SIZE + 1);
  const textEnd = CALL_HEADER_SIZE + 5 + textLength;
  if ((kind !== 0 && kind !== 1) || textEnd + 2 > payload.length) fail("call");
  const nameLength = (payload[textEnd]! << 8) + payload[textEnd + 1]!;
  const nameEnd = textEnd + 2 + nameLength;
  if (nameEnd > payload.length) fail("call");
  const text = callText(payload, CALL_HEADER_SIZE + 5, textEnd);
  const args = decodeValueAt(payload, nameEnd, payload.length, shared);
  if (!Array.isArray(args)) fail("call");
  if (kind === 0) return { id, target: { kind: "fn", source: text }, args, timeout, attempt };
  const name = callText(payload, textEnd + 2, nameEnd);
  return { id, target: { kind: "module", specifier: text, name }, args, timeout, attempt };
}

/**
 * Writes a result's or stream chunk's header, the call id (u32), into
 * `target` at `offset`; the codec-encoded value follows it.
 *
 * @param target Where to write ({@linkcode RESULT_HEADER_SIZE} bytes).
 * @param offset The index of the first byte.
 * @param id The call id.
 */
export function writeResultHeader(target: Uint8Array, offset: number, id: number): void {
  writeUint32BE(target, offset, id);
}

/**
 * Encodes a result or stream chunk: the call id (u32), then the value.
 *
 * @param id The call id.
 * @param value The value.
 * @returns The payload parts.
 * @throws {DataCloneError} When the value cannot cross the wire (named `"result"`).
 */
export function encodeIdValue(id: number, value: unknown): Uint8Array[] {
  const parts = encodeValue(value, RESULT_NAME);
  const { buf, offset } = reserve(RESULT_HEADER_SIZE);
  writeResultHeader(buf, offset, id);
  return [commit(RESULT_HEADER_SIZE), ...parts];
}

/**
 * The call id of a result or stream chunk payload.
 *
 * @param payload The frame payload.
 * @returns The id.
 * @throws {ProtocolError} When the payload is too short to hold an id and a value.
 */
export function decodeResultId(payload: Uint8Array): number {
  if (payload.length <= RESULT_HEADER_SIZE) fail("result");
  return readUint32BE(payload, 0);
}

/**
 * The value of a result or stream chunk payload (after {@linkcode decodeResultId}).
 *
 * @param payload The frame payload.
 * @param shared Whether `payload` lives in a buffer shared with other frames
 * (then decoded byte arrays are copies).
 * @returns The value.
 * @throws {ProtocolError} When the value is not a well-formed encoding.
 */
export function decodeResultValue(payload: Uint8Array, shared = false): unknown {
  return decodeValueAt(payload, RESULT_HEADER_SIZE, payload.length, shared);
}

/**
 * Decodes a result or stream chunk.
 *
 * @param payload The frame payload.
 * @param shared Whether `payload` lives in a buffer shared with other frames.
 * @returns The id and value.
 * @throws {ProtocolError} When it is not a well-formed result.
 */
export function decodeIdValue(payload: Uint8Array, shared = false): [number, unknown] {
  return [decodeResultId(payload), decodeResultValue(payload, shared)];
}

/**
 * Encodes `[id]` or `[id, n]` (cancel, stream end, stream pull).
 *
 * @param id The call id.
 * @param n An optional count.
 * @returns The payload parts.
 */
export function encodeId(id: number, n?: number): Uint8Array[] {
  return encodeValue(n === undefined ? [id] : [id, n]);
}

/**
 * Decodes `[id]` or `[id, n]`.
 *
 * @param payload The frame payload.
 * @returns The id and count (`0` when absent).
 */
export function decodeId(payload: Uint8Array): [number, number] {
  const v = decodeValue(payload);
  if (!Array.isArray(v) || typeof v[0] !== "number") fail("id");
  return [v[0], typeof v[1] === "number" ? v[1] : 0];
}

/**
 * Turns anything thrown into a {@linkcode WireError} (name, message, stack, cause chain).
 *
 * @param err What was thrown.
 * @param depth How many causes deep this is (bounded, causes can cycle).
 * @returns The wire form.
 */
export function toWireError(err: unknown, depth = 0): WireError {
  if (err instanceof Error || (typeof err === "object" && err !== null && "message" in err)) {
    const e = err as Error;
    const out: WireError = {
      name: String(e.name ?? "Error"),
      message: String(e.message ?? ""),
    };
    if (typeof e.stack === "string") out.stack = e.stack;
    if (e.cause !== undefined && depth < 8) {
      out.cause = e.cause instanceof Error ? toWireError(e.cause, depth + 1) : safeValue(e.cause);
    }
    return out;
  }
  return { name: "Error", message: `Non-error thrown: ${describe(err)}` };
}

function safeValue(v: unknown): { value: unknown } {
  try {
    encodeValue(v);
    return { value: v };
  } catch {
    return { value: describe(v) };
  }
}

function describe(v: unknown): string {
  try {
    return typeof v === "string" ? JSON.stringify(v) : String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/**
 * Encodes `[id, wireError]`.
 *
 * @param id The call id.
 * @param err What was thrown.
 * @returns The payload parts.
 */
export function encodeError(id: number, err: unknown): Uint8Array[] {
  return encodeValue([id, toWireError(err)]);
}

/**
 * Decodes `[id, wireError]`.
 *
 * @param payload The frame payload.
 * @param shared Whether `payload` lives in a buffer shared with other frames.
 * @returns The id and error.
 */
export function decodeError(payload: Uint8Array, shared = false): [number, WireError] {
  const v = decodeValue(payload, shared);
  if (!Array.isArray(v) || typeof v[0] !== "number") fail("error");
  const e = v[1] as WireError;
  if (typeof e !== "object" || e === null || typeof e.message !== "string") fail("error");
  return [v[0], e];
}
