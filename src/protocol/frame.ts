/**
 * Frames: the unit on the parent–runner socket.
 *
 * A frame is a 4-byte big-endian payload length, a 1-byte type, then the
 * payload. {@linkcode FrameDecoder} is a pure push parser: feed it whatever the
 * socket delivered, take whole frames out. It enforces a maximum payload size
 * before allocating anything, so a hostile length prefix costs nothing.
 *
 * @module
 */

import { copyBytes, readUint32BE, writeUint32BE } from "../util/bytes.ts";
import { commit, reserve } from "./_codec_slab.ts";
import { ProtocolError } from "./errors.ts";

/** Bytes before the payload: length (4) + type (1). */
export const FRAME_HEADER_SIZE = 5;

/** One decoded frame. The payload is never a view of a reused buffer: its bytes stay as received. */
export interface Frame {
  /** The frame type (see `FrameType`). */
  type: number;
  /** The payload bytes. */
  payload: Uint8Array;
  /**
   * The payload is a view into a buffer shared with other frames (small
   * frames): what is decoded from it and handed on must not be a view of it.
   */
  shared: boolean;
}

/** Payloads up to this size are copied into the shared output slab rather than a buffer of their own. */
export const SLAB_PAYLOAD_MAX = 2 * 1024;

// A fresh ArrayBuffer per frame costs more than everything else a small frame
// needs; a region of the codec's slab (never handed out twice) costs a view.
function slabCopy(source: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  const { buf, offset } = reserve(n);
  copyBytes(buf, offset, source, start, end);
  return commit(n);
}

/**
 * Encodes a frame header for a payload of `length` bytes.
 *
 * @param type The frame type, 0–255.
 * @param length The payload length in bytes.
 * @returns The 5 header bytes.
 *
 * @example
 * ```ts
 * import { encodeFrameHeader } from "./frame.ts";
 * console.assert(encodeFrameHeader(7, 3).join() === "0,0,0,3,7");
 * ```
 */
export function encodeFrameHeader(type: number, length: number): Uint8Array {
  const header = new Uint8Array(FRAME_HEADER_SIZE);
  writeFrameHeader(header, 0, type, length);
  return header;
}

/**
 * Writes a frame header into `target` at `offset`.
 *
 * @param target Where to write.
 * @param offset The index of the first header byte.
 * @param type The frame type, 0–255.
 * @param length The payload length in bytes.
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  type: number,
  length: number,
): void {
  if (!Number.isInteger(length) || length < 0 || length > 0xffffffff) {
    throw new RangeError(`Cannot encode frame: payload length ${length} is out of range`);
  }
  writeUint32BE(target, offset, length);
  target[offset + 4] = type;
}

/**
 * Incremental frame parser.
 *
 * @example
 * ```ts
 * import { encodeFrameHeader, FrameDecoder } from "./frame.ts";
 * const d = new FrameDecoder({ maxPayload: 16 });
 * d.push(encodeFrameHeader(1, 2));
 * d.push(new Uint8Array([9, 9]));
 * const f = d.next();
 * console.assert(f?.type === 1 && f.payload.length === 2);
 * ```
 */
export class FrameDecoder {
  #maxPayload: number;
  #pending: Uint8Array = new Uint8Array(0);
  /** Payload being filled for a frame whose header is read. */
  #body: Uint8Array | undefined;
  #bodyType = 0;
  #bodyFilled = 0;
  /** Decoded frames not yet taken: `#ready[#readIndex, #readyCount)` (the array is reused). */
  #ready: (Frame | undefined)[] = [];
  #readyCount = 0;
  #readIndex = 0;
  /**
   * Parsing stopped at a header over the limit while frames before it were
   * still untaken: taking them may raise the limit (the handshake's last frame
   * does), so the verdict waits for `next()`.
   */
  #stalled = false;

  /**
   * @param options `maxPayload`: largest accepted payload in bytes.
   */
  constructor(options: { maxPayload: number }) {
    this.#maxPayload = options.maxPayload;
  }

  /** Changes the size limit (the handshake uses a small one, the link a large one). */
  set maxPayload(value: number) {
    this.#maxPayload = value;
  }

  /** Bytes received but not yet part of a returned frame. */
  get buffered(): number {
    return this.#pending.length + this.#bodyFilled;
  }

  /**
   * Feeds bytes. The decoder copies what it keeps, so the caller may reuse `chunk`.
   *
   * @param chunk Bytes as the socket delivered them.
   * @param end Use only `chunk[0, end)` (a socket read's count), sparing the caller a view.
   * @throws {ProtocolError} When a frame announces a payload over the limit (from
   * `next()` instead, when frames before it are still untaken: taking them may
   * raise the limit).
   */
  push(chunk: Uint8Array, end: number = chunk.length): void {
    if (this.#stalled) {
      const joined = new Uint8Array(this.#pending.length + end);
      joined.set(this.#pending);
      joined.set(chunk.subarray(0, end), this.#pending.length);
      this.#pending = joined;
      return;
    }
    let data = chunk;
    let pos = 0;
    if (this.#body !== undefined) {
      const need = this.#body.length - this.#bodyFilled;
      const take = Math.min(need, end);
      this.#body.set(data.subarray(0, take), this.#bodyFilled);
      this.#bodyFilled += take;
      pos = take;
      if (this.#bodyFilled < this.#body.length) return;
      this.#ready[this.#readyCount++] = {
        type: this.#bodyType,
        payload: this.#body,
        shared: false,
      };
      this.#body = undefined;
      this.#bodyFilled = 0;
    }
    if (pos === end) return;
    if (this.#pending.length > 0) {
      const joined = new Uint8Array(this.#pending.length + end - pos);
      joined.set(this.#pending);
      joined.set(data.subarray(pos, end), this.#pending.length);
      data = joined;
      pos = 0;
      end = joined.length;
      this.#pending = new Uint8Array(0);
    }
    while (end - pos >= FRAME_HEADER_SIZE) {
      const length = readUint32BE(data, pos);
      const type = data[pos + 4]!;
      if (length > this.#maxPayload) {
        if (this.#readIndex < this.#readyCount) {
          this.#pending = data.slice(pos, end);
          this.#stalled = true;
          return;
        }
        throw new ProtocolError(
          `Frame payload of ${length} bytes exceeds the limit of ${this.#maxPayload}`,
        );
      }
      const start = pos + FRAME_HEADER_SIZE;
      const available = end - start;
      if (available >= length) {
        this.#ready[this.#readyCount++] = length <= SLAB_PAYLOAD_MAX
          ? { type, payload: slabCopy(data, start, start + length), shared: true }
          : { type, payload: data.slice(start, start + length), shared: false };
        pos = start + length;
        continue;
      }
      // Incomplete payload: allocate it once and fill it from later chunks.
      this.#body = new Uint8Array(length);
      this.#body.set(data.subarray(start, end));
      this.#bodyFilled = available;
      this.#bodyType = type;
      return;
    }
    if (pos < end) this.#pending = data.slice(pos, end);
  }

  /**
   * The unfilled rest of a large frame's payload whose header has been read,
   * so a reader can receive straight into it (no copy through a read buffer);
   * report what it wrote with {@linkcode FrameDecoder.filled}.
   *
   * @returns The writable rest of the payload, or `undefined` when no frame is half read.
   */
  bodyRemainder(): Uint8Array | undefined {
    return this.#body?.subarray(this.#bodyFilled);
  }

  /**
   * Records `n` bytes written into {@linkcode FrameDecoder.bodyRemainder}.
   *
   * @param n Bytes written at its start.
   */
  filled(n: number): void {
    const body = this.#body!;
    this.#bodyFilled += n;
    if (this.#bodyFilled < body.length) return;
    this.#ready[this.#readyCount++] = { type: this.#bodyType, payload: body, shared: false };
    this.#body = undefined;
    this.#bodyFilled = 0;
  }

  /**
   * Takes the next whole frame.
   *
   * @returns The frame, or `undefined` when more bytes are needed.
   * @throws {ProtocolError} When the next frame announces a payload over the limit.
   */
  next(): Frame | undefined {
    if (this.#readIndex >= this.#readyCount) {
      if (!this.#stalled) return undefined;
      // Every frame before the stalled header is taken: judge it by today's limit.
      this.#stalled = false;
      const rest = this.#pending;
      this.#pending = new Uint8Array(0);
      this.push(rest);
      if (this.#readIndex >= this.#readyCount) return undefined;
    }
    const frame = this.#ready[this.#readIndex]!;
    this.#ready[this.#readIndex++] = undefined;
    if (this.#readIndex === this.#readyCount) {
      this.#readyCount = 0;
      this.#readIndex = 0;
      // One huge burst must not pin a huge array.
      if (this.#ready.length > 1024) this.#ready = [];
    }
    return frame;
  }
}
