/**
 * A framed connection: reads whole frames, writes frames with coalescing.
 *
 * Small frames sent in the same tick or while a socket write is under way
 * are joined into one write, so many small frames cost one syscall; large
 * payload parts are written as they are, never copied, and large incoming
 * payloads are read straight into their final buffer.
 *
 * @module
 */

import { type Socket, socketErrorKind } from "../transport.ts";
import { type Frame, FRAME_HEADER_SIZE, FrameDecoder, writeFrameHeader } from "./frame.ts";

const READ_SIZE = 64 * 1024;
const resolved = Promise.resolve();
const COALESCE_LIMIT = 64 * 1024;
/** Size of the buffer small frames are written into (grown for one larger frame). */
const OUT_SIZE = 16 * 1024;
/** A half-read frame with at least this much left is read straight into its payload. */
const DIRECT_READ_MIN = 16 * 1024;

/**
 * Frames over a {@linkcode Socket}. One owner; `close()` is idempotent.
 *
 * Small frames sent in the same tick, or while a write is under way, are
 * written into one buffer and leave in one write. The first send of a tick
 * schedules the flush on a microtask, so a burst (a batch of results, many
 * callers) costs one syscall.
 *
 * @example
 * ```ts ignore
 * const fc = new FrameConnection(socket, { maxPayload: 1024 });
 * fc.send(1, [new Uint8Array([1])]);
 * const frame = await fc.readFrame();
 * ```
 */
export class FrameConnection {
  #socket: Socket;
  #decoder: FrameDecoder;
  #readBuf = new Uint8Array(READ_SIZE);
  /** Sealed segments to write in order (coalesced small frames, large parts). */
  #queue: Uint8Array[] = [];
  /** Small frames being gathered; `#outLength` bytes used. */
  #out: Uint8Array | undefined;
  #outLength = 0;
  /** A written `OUT_SIZE` buffer, ready for reuse. */
  #spare: Uint8Array | undefined;
  /** A flush is queued as a microtask. */
  #flushQueued = false;
  /** The write loop, while it runs. */
  #writing: Promise<void> | undefined;
  #closed = false;
  #writeError: unknown;

  /**
   * @param socket The connected socket; this object owns it from now on.
   * @param options `maxPayload`: the largest frame payload accepted.
   */
  constructor(socket: Socket, options: { maxPayload: number }) {
    this.#socket = socket;
    this.#decoder = new FrameDecoder(options);
  }

  /** Changes the largest accepted payload (small before authentication). */
  set maxPayload(value: number) {
    this.#decoder.maxPayload = value;
  }

  /** Whether `close()` ran or the socket failed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Takes a frame already received, without waiting: after `readFrame()`
   * resolves, a reader drains what the same socket read delivered in one go.
   *
   * @returns The frame, or `undefined` when none is buffered.
   */
  takeFrame(): Frame | undefined {
    return this.#decoder.next();
  }

  /**
   * Reads the next whole frame.
   *
   * @returns The frame, or `null` when the peer closed the connection (or it was closed here).
   * @throws {ProtocolError} On an oversize frame.
   */
  async readFrame(): Promise<Frame | null> {
    while (true) {
      const ready = this.#decoder.next();
      if (ready !== undefined) return ready;
      if (this.#closed) return null;
      // A large payload is received in place rather than copied from the read buffer.
      const rest = this.#decoder.bodyRemainder();
      const direct = rest !== undefined && rest.length >= DIRECT_READ_MIN;
      let n: number | null;
      try {
        n = await this.#socket.read(direct ? rest : this.#readBuf);
      } catch (err) {
        if (this.#closed) return null;
        if (isConnectionDrop(err)) {
          this.close();
          return null;
        }
        throw err;
      }
      if (n === null) {
        this.close();
        return null;
      }
      if (direct) this.#decoder.filled(n);
      else this.#decoder.push(this.#readBuf.subarray(0, n));
    }
  }

  /**
   * Queues a frame. Errors surface as a closed connection (`readFrame()` returns `null`).
   *
   * @param type The frame type.
   * @param parts The payload, as parts to write in order (not copied when large).
   */
  send(type: number, parts: readonly Uint8Array[] = []): void {
    if (this.#closed) return;
    let length = 0;
    for (let i = 0; i < parts.length; i++) length += parts[i]!.length;
    if (length < COALESCE_LIMIT) {
      const size = FRAME_HEADER_SIZE + length;
      let out = this.#out;
      if (out === undefined || out.length - this.#outLength < size) {
        this.#seal();
        out = this.#out = size <= OUT_SIZE
          ? (this.#spare ?? new Uint8Array(OUT_SIZE))
          : new Uint8Array(size);
        this.#spare = undefined;
      }
      let at = this.#outLength;
      writeFrameHeader(out, at, type, length);
      at += FRAME_HEADER_SIZE;
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        out.set(p, at);
        at += p.length;
      }
      this.#outLength = at;
    } else {
      this.#seal();
      const header = new Uint8Array(FRAME_HEADER_SIZE);
      writeFrameHeader(header, 0, type, length);
      this.#queue.push(header);
      for (let i = 0; i < parts.length; i++) this.#queue.push(parts[i]!);
    }
    if (!this.#flushQueued && this.#writing === undefined) {
      this.#flushQueued = true;
      resolved.then(this.#startFlush);
    }
  }

  /** Starts the write loop (bound once: a send costs no closure). */
  #startFlush = (): void => {
    this.#flushQueued = false;
    this.#writing ??= this.#flush();
  };

  /** Moves gathered small frames to the write queue. */
  #seal(): void {
    if (this.#out === undefined || this.#outLength === 0) return;
    this.#queue.push(this.#out.subarray(0, this.#outLength));
    this.#out = undefined;
    this.#outLength = 0;
  }

  /** Resolves when every queued frame has been handed to the socket (or writing failed). */
  async flushed(): Promise<void> {
    while (this.#writing !== undefined || this.#flushQueued) {
      // A queued flush starts on a microtask, ahead of this await's continuation.
      await (this.#writing ?? Promise.resolve());
    }
  }

  async #flush(): Promise<void> {
    try {
      while (!this.#closed) {
        this.#seal();
        if (this.#queue.length === 0) break;
        const batch = this.#queue;
        this.#queue = [];
        for (let i = 0; i < batch.length; i++) {
          const part = batch[i]!;
          let written = await this.#socket.write(part);
          while (written < part.length) {
            written += await this.#socket.write(part.subarray(written));
          }
          if (part.buffer.byteLength === OUT_SIZE && part.byteOffset === 0) {
            this.#spare = new Uint8Array(part.buffer);
          }
        }
      }
    } catch (err) {
      this.#writeError = err;
      this.close();
    } finally {
      this.#writing = undefined;
    }
  }

  /** The error that ended writing, if any (for diagnostics). */
  get writeError(): unknown {
    return this.#writeError;
  }

  /** Closes the socket. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#out = undefined;
    this.#spare = undefined;
    try {
      this.#socket.close();
    } catch {
      // Already closed by the runtime.
    }
  }
}

function isConnectionDrop(err: unknown): boolean {
  const kind = socketErrorKind(err);
  return kind === "dropped" || kind === "closed";
}
