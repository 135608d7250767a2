/**
 * A framed connection: reads whole frames, writes frames with coalescing.
 *
 * Writes issued while a socket write is under way are joined into the next
 * write, so many small frames cost one syscall; large payload parts are
 * written as they are, never copied.
 *
 * @module
 */

import type { Socket } from "../transport.ts";
import { type Frame, FRAME_HEADER_SIZE, FrameDecoder, writeFrameHeader } from "./frame.ts";

const READ_SIZE = 256 * 1024;
const COALESCE_LIMIT = 64 * 1024;

/**
 * Frames over a {@linkcode Socket}. One owner; `close()` is idempotent.
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
  #queue: Uint8Array[] = [];
  #flushing: Promise<void> | undefined;
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
        n = await this.#socket.read(this.#readBuf);
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
      this.#decoder.push(this.#readBuf.subarray(0, n));
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
    for (const p of parts) length += p.length;
    if (length < COALESCE_LIMIT) {
      const buf = new Uint8Array(FRAME_HEADER_SIZE + length);
      writeFrameHeader(buf, 0, type, length);
      let at = FRAME_HEADER_SIZE;
      for (const p of parts) {
        buf.set(p, at);
        at += p.length;
      }
      this.#queue.push(buf);
    } else {
      const header = new Uint8Array(FRAME_HEADER_SIZE);
      writeFrameHeader(header, 0, type, length);
      this.#queue.push(header, ...parts);
    }
    this.#flushing ??= this.#flush();
  }

  /** Resolves when every queued frame has been handed to the socket (or writing failed). */
  async flushed(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const batch = this.#queue;
        this.#queue = [];
        let small: Uint8Array[] = [];
        let smallBytes = 0;
        for (const part of batch) {
          if (part.length >= COALESCE_LIMIT) {
            await this.#writeSmall(small, smallBytes);
            small = [];
            smallBytes = 0;
            await this.#writeAll(part);
          } else {
            small.push(part);
            smallBytes += part.length;
          }
        }
        await this.#writeSmall(small, smallBytes);
      }
    } catch (err) {
      this.#writeError = err;
      this.close();
    } finally {
      this.#flushing = undefined;
    }
  }

  async #writeSmall(parts: Uint8Array[], total: number): Promise<void> {
    if (parts.length === 0) return;
    if (parts.length === 1) return await this.#writeAll(parts[0]!);
    const joined = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      joined.set(p, at);
      at += p.length;
    }
    await this.#writeAll(joined);
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) {
      written += await this.#socket.write(bytes.subarray(written));
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
    try {
      this.#socket.close();
    } catch {
      // Already closed by the runtime.
    }
  }
}

function isConnectionDrop(err: unknown): boolean {
  return err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.BadResource ||
    err instanceof Deno.errors.Interrupted ||
    err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.NotConnected;
}
