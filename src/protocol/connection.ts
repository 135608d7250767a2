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
import { copyBytes } from "../util/bytes.ts";
import { type Resolvers, withResolvers } from "../util/promise.ts";
import { type Frame, FRAME_HEADER_SIZE, FrameDecoder, writeFrameHeader } from "./frame.ts";

const READ_SIZE = 64 * 1024;
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
  /** The read under way goes straight into a large payload's buffer. */
  #direct = false;
  /** Sealed segments to write in order (coalesced small frames, large parts), `#queued` of them. */
  #queue: (Uint8Array | undefined)[] = [];
  #queued = 0;
  /** Small frames being gathered; `#outLength` bytes used. */
  #out: Uint8Array | undefined;
  #outLength = 0;
  /** The latest `OUT_SIZE` buffer made here (only our own buffers are ever reused). */
  #ownOut: Uint8Array | undefined;
  /** A view of `#ownOut` from its last sealing, reused when the length repeats. */
  #outView: Uint8Array | undefined;
  /** A written `OUT_SIZE` buffer, ready for reuse. */
  #spare: Uint8Array | undefined;
  /** A flush is queued as a microtask. */
  #flushQueued = false;
  /** A socket write is under way (the pump waits for its count). */
  #writing = false;
  /** The batch being written (one of the two queues), `#batchCount` parts, at `#batchIndex`. */
  #batch: (Uint8Array | undefined)[] = [];
  #batchCount = 0;
  #batchIndex = 0;
  /** Bytes of the current part already written. */
  #partWritten = 0;
  /** Resolved when writing stops; made only when `flushed()` waits. */
  #idle: Resolvers<void> | undefined;
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
      let n: number | null;
      try {
        n = await this.#readOnce();
      } catch (err) {
        if (this.#readEnded(err)) return null;
        throw err;
      }
      if (!this.#received(n)) return null;
    }
  }

  /**
   * Reads frames until the connection ends, handing each to `onFrame` as it
   * is decoded (one async loop for the connection's life, rather than a
   * promise per frame). Frames one socket read delivered are handed over in
   * the same tick, then `onRead` runs once.
   *
   * @param onFrame Receives each frame; it may close the connection.
   * @param onRead Runs after the frames of each socket read.
   * @returns When the peer closed the connection or it was closed here.
   * @throws {ProtocolError} On an oversize frame.
   */
  async readEach(onFrame: (frame: Frame) => void, onRead?: () => void): Promise<void> {
    const decoder = this.#decoder;
    while (true) {
      let handed = false;
      for (let f = decoder.next(); f !== undefined && !this.#closed; f = decoder.next()) {
        onFrame(f);
        handed = true;
      }
      if (handed) onRead?.();
      if (this.#closed) return;
      let n: number | null;
      try {
        n = await this.#readOnce();
      } catch (err) {
        if (this.#readEnded(err)) return;
        throw err;
      }
      if (!this.#received(n)) return;
    }
  }

  /**
   * Starts one socket read (returning the socket's own promise: no extra
   * await). A large payload whose header is read is received in place rather
   * than copied from the read buffer.
   */
  #readOnce(): Promise<number | null> {
    const rest = this.#decoder.bodyRemainder();
    this.#direct = rest !== undefined && rest.length >= DIRECT_READ_MIN;
    return this.#socket.read(this.#direct ? rest! : this.#readBuf);
  }

  /** Feeds what a read returned to the decoder; `false` when the peer closed (closed here too). */
  #received(n: number | null): boolean {
    if (n === null) {
      this.close();
      return false;
    }
    if (this.#direct) this.#decoder.filled(n);
    else this.#decoder.push(this.#readBuf, n);
    return true;
  }

  /** A read failed: `true` when that is the connection ending (closed here), `false` to rethrow. */
  #readEnded(err: unknown): boolean {
    if (this.#closed) return true;
    if (!isConnectionDrop(err)) return false;
    this.close();
    return true;
  }

  /**
   * Queues a frame. Errors surface as a closed connection (`readFrame()` returns `null`).
   *
   * A frame under 64 KiB is copied at once; in a larger frame, `head` is
   * copied and the parts are written as they are, so they must not change
   * until written.
   *
   * @param type The frame type.
   * @param parts The payload, as parts to write in order (not copied when large).
   * @param head Bytes before the parts, always copied (the caller may reuse the buffer at once).
   */
  send(type: number, parts: readonly Uint8Array[] = [], head?: Uint8Array): void {
    if (this.#closed) return;
    const headLength = head === undefined ? 0 : head.length;
    let length = headLength;
    for (let i = 0; i < parts.length; i++) length += parts[i]!.length;
    if (length < COALESCE_LIMIT) {
      const size = FRAME_HEADER_SIZE + length;
      let out = this.#out;
      if (out === undefined || out.length - this.#outLength < size) {
        this.#seal();
        if (size > OUT_SIZE) {
          out = new Uint8Array(size);
        } else if (this.#spare !== undefined) {
          out = this.#spare;
          this.#spare = undefined;
        } else {
          out = this.#ownOut = new Uint8Array(OUT_SIZE);
        }
        this.#out = out;
      }
      let at = this.#outLength;
      writeFrameHeader(out, at, type, length);
      at += FRAME_HEADER_SIZE;
      if (head !== undefined) {
        copyBytes(out, at, head, 0, headLength);
        at += headLength;
      }
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        copyBytes(out, at, p, 0, p.length);
        at += p.length;
      }
      this.#outLength = at;
    } else {
      this.#seal();
      const header = new Uint8Array(FRAME_HEADER_SIZE + headLength);
      writeFrameHeader(header, 0, type, length);
      if (head !== undefined) header.set(head, FRAME_HEADER_SIZE);
      this.#enqueue(header);
      for (let i = 0; i < parts.length; i++) this.#enqueue(parts[i]!);
    }
    if (!this.#flushQueued && !this.#writing) {
      this.#flushQueued = true;
      queueMicrotask(this.#startFlush);
    }
  }

  /** Starts writing what the tick queued (bound once: a send costs no closure). */
  #startFlush = (): void => {
    this.#flushQueued = false;
    if (!this.#writing) this.#pump();
  };

  #enqueue(part: Uint8Array): void {
    this.#queue[this.#queued++] = part;
  }

  /** Moves gathered small frames to the write queue. */
  #seal(): void {
    const out = this.#out;
    const length = this.#outLength;
    if (out === undefined || length === 0) return;
    let view = this.#outView;
    if (view === undefined || view.buffer !== out.buffer || view.length !== length) {
      view = out.subarray(0, length);
      if (out === this.#ownOut) this.#outView = view;
    }
    this.#enqueue(view);
    this.#out = undefined;
    this.#outLength = 0;
  }

  /** Resolves when every queued frame has been handed to the socket (or writing failed). */
  async flushed(): Promise<void> {
    while ((this.#writing || this.#flushQueued) && !this.#closed) {
      this.#idle ??= withResolvers();
      await this.#idle.promise;
    }
  }

  /**
   * The write loop, without an async function: a plain callback per socket
   * write allocates far less than an async frame and its awaits, and this
   * runs once per round trip. Writes the current batch part by part, then
   * swaps in what was queued meanwhile, until nothing is left.
   */
  #pump(): void {
    while (!this.#closed) {
      if (this.#batchIndex === this.#batchCount) {
        this.#seal();
        if (this.#queued === 0) break;
        // The written batch's array becomes the next queue: no allocation.
        const batch = this.#queue;
        this.#queue = this.#batch;
        this.#batch = batch;
        this.#batchCount = this.#queued;
        this.#batchIndex = 0;
        this.#queued = 0;
      }
      const part = this.#batch[this.#batchIndex]!;
      const rest = this.#partWritten === 0 ? part : part.subarray(this.#partWritten);
      this.#writing = true;
      try {
        this.#socket.write(rest).then(this.#onWritten, this.#onWriteFailed);
      } catch (err) {
        this.#onWriteFailed(err);
      }
      return;
    }
    this.#stopped();
  }

  #onWritten = (n: number): void => {
    this.#writing = false;
    if (this.#closed) return this.#stopped();
    const part = this.#batch[this.#batchIndex]!;
    this.#partWritten += n;
    if (this.#partWritten < part.length) return this.#pump();
    this.#partWritten = 0;
    this.#batch[this.#batchIndex++] = undefined;
    // Our own small-frame buffer is free again (never a caller's buffer).
    if (part.buffer === this.#ownOut?.buffer) this.#spare = this.#ownOut;
    this.#pump();
  };

  #onWriteFailed = (err: unknown): void => {
    this.#writing = false;
    this.#writeError ??= err;
    this.close();
  };

  /** Writing stopped (nothing left, or closed): wakes `flushed()`. */
  #stopped(): void {
    const idle = this.#idle;
    if (idle === undefined) return;
    this.#idle = undefined;
    idle.resolve();
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
    this.#batch = [];
    this.#queued = 0;
    this.#batchCount = 0;
    this.#batchIndex = 0;
    this.#partWritten = 0;
    this.#out = undefined;
    this.#ownOut = undefined;
    this.#outView = undefined;
    this.#spare = undefined;
    try {
      this.#socket.close();
    } catch {
      // Already closed by the runtime.
    }
    this.#stopped();
  }
}

function isConnectionDrop(err: unknown): boolean {
  const kind = socketErrorKind(err);
  return kind === "dropped" || kind === "closed";
}
