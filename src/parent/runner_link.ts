/**
 * The parent side of one authenticated runner connection: in-flight calls,
 * streams with credit-based back-pressure, heartbeats, and the end of the link.
 *
 * @module
 */

import type { Timer } from "../util/timer.ts";
import { PayloadTooLargeError, RemoteError, RunnerExitedError } from "../errors.ts";
import type { FrameConnection } from "../protocol/connection.ts";
import type { Frame } from "../protocol/frame.ts";
import {
  CALL_HEADER_SIZE,
  decodeError,
  decodeId,
  decodeIdValue,
  decodeResultId,
  decodeResultValue,
  encodeId,
  FrameType,
  LINK_MAX_PAYLOAD,
  STREAM_WINDOW,
  type WireError,
  writeCallHeader,
} from "../protocol/messages.ts";
import type { Logger } from "../util/logger.ts";
import { IntMap } from "../util/int_map.ts";
import { type Resolvers, withResolvers } from "../util/promise.ts";

const encoder = new TextEncoder();
/** Bytes per `CodeChunk` frame. */
export const CODE_CHUNK_BYTES = 256 * 1024;

/**
 * Milliseconds a link whose connection dropped waits for the backend's word
 * on the runner's exit before its calls fail with "connection closed".
 */
export const EXIT_REPORT_GRACE = 2_000;

/** Heartbeat timings (milliseconds). */
export interface HeartbeatOptions {
  /** How often each side sends a ping. */
  interval: number;
  /** Silence after which the peer is dead. */
  timeout: number;
}

/** Where a call's outcome goes (one object per call: no closures on the hot path). */
export interface CallSink {
  /**
   * The outcome: a value (a stream arrives as an `AsyncIterable`) or an error.
   * Called at least once; later calls are to be ignored.
   */
  settle(ok: boolean, value: unknown): void;
  /** Called exactly once when the call no longer occupies the runner. */
  done(): void;
}

interface Pending {
  id: number;
  sink: CallSink;
  stream: RemoteStream | undefined;
}

/** One runner connection, owned by the pool. */
export class RunnerLink {
  readonly id: string;
  #conn: FrameConnection;
  #log: Logger;
  #nextId = 1;
  #pending = new IntMap<Pending>();
  #head = new Uint8Array(CALL_HEADER_SIZE);
  #lastHeard = Date.now();
  #tick: Timer;
  #closeReason: string | undefined;
  #closed = withResolvers<string>();
  #exited: Promise<string> | undefined;
  /** The connection ended; the link closes once the exit is reported (or not, in time). */
  #connectionLost = false;
  /** Code artifacts shipped (`true`) or on their way, by hash. */
  #code = new Map<string, true | Promise<void>>();
  #codeChain: Promise<void> = Promise.resolve();

  /**
   * @param id The runner id.
   * @param conn The authenticated connection (owned from now on).
   * @param heartbeat Heartbeat timings.
   * @param log Where to log.
   * @param exited The runner's exit as its backend reports it: a connection
   * that drops with calls in flight waits up to {@linkcode EXIT_REPORT_GRACE}
   * ms for it, so they learn why (out of memory, killed) rather than
   * "connection closed".
   */
  constructor(
    id: string,
    conn: FrameConnection,
    heartbeat: HeartbeatOptions,
    log: Logger,
    exited?: Promise<string>,
  ) {
    this.id = id;
    this.#conn = conn;
    this.#exited = exited;
    // The handshake ran with a small frame limit; results may be as large as calls.
    conn.maxPayload = LINK_MAX_PAYLOAD;
    this.#log = log;
    this.#tick = setInterval(() => {
      if (Date.now() - this.#lastHeard > heartbeat.timeout) {
        this.close(`no heartbeat for ${heartbeat.timeout} ms`);
      } else {
        this.#conn.send(FrameType.Ping);
      }
    }, heartbeat.interval);
    this.#readLoop();
  }

  /** Resolves with the reason once the link has ended. */
  get closed(): Promise<string> {
    return this.#closed.promise;
  }

  /** Whether the link has ended. */
  get isClosed(): boolean {
    return this.#closeReason !== undefined || this.#connectionLost;
  }

  /**
   * Sends a call.
   *
   * @param body What to run and the arguments, from `encodeCallBody()`.
   * @param timeout Milliseconds the runner allows (`0`: none).
   * @param sink Receives the outcome and the end of the call's hold on the runner.
   * @param attempt Which attempt this is (`this.attempt` on the runner).
   * @returns The call id (`0` when the link has already ended: the sink got the error).
   */
  call(body: readonly Uint8Array[], timeout: number, sink: CallSink, attempt = 1): number {
    if (this.#closeReason !== undefined) {
      sink.done();
      sink.settle(false, new RunnerExitedError(this.id, this.#closeReason));
      return 0;
    }
    // Ids are 32-bit on the wire and never 0; after a wrap, one still in use is skipped.
    let id = this.#nextId;
    while (this.#pending.has(id)) id = id === 0xffffffff ? 1 : id + 1;
    this.#nextId = id === 0xffffffff ? 1 : id + 1;
    this.#pending.set(id, { id, sink, stream: undefined });
    // `send` copies the head before returning, so one buffer serves every call.
    writeCallHeader(this.#head, 0, id, timeout, attempt);
    this.#conn.send(FrameType.Call, body, this.#head);
    return id;
  }

  /** Ends a call's hold on the runner, once. */
  #finish(p: Pending): void {
    // An id is never reused while in use (see `call`), so its entry is `p`'s own.
    if (this.#pending.delete(p.id)) p.sink.done();
  }

  /**
   * Cancels a call: the runner aborts it; the caller's promise rejects with `reason`.
   *
   * @param id The call id.
   * @param reason What the caller sees.
   */
  cancel(id: number, reason: unknown): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#conn.send(FrameType.Cancel, encodeId(id));
    p.sink.settle(false, reason);
    p.stream?.fail(reason);
    this.#finish(p);
  }

  /**
   * Ships a code artifact once per link (code sync): `CodeBegin`, chunks of
   * {@linkcode CODE_CHUNK_BYTES} each written before the next is queued
   * (back-pressure: never more than one chunk buffered), `CodeEnd`. Frames
   * of other calls interleave. Artifacts go one at a time, in order.
   *
   * @param hash The artifact's SHA-256, hex.
   * @param bytes The artifact.
   * @param onShipped Told how long the shipping took (when this call starts it).
   * @returns `undefined` when it was shipped already, else when it is written.
   */
  shipCode(
    hash: string,
    bytes: Uint8Array,
    onShipped?: (ms: number) => void,
  ): Promise<void> | undefined {
    const known = this.#code.get(hash);
    if (known === true) return undefined;
    if (known !== undefined) return known;
    const conn = this.#conn;
    const shipping = this.#codeChain.then(async () => {
      const started = Date.now();
      if (this.isClosed) throw new Error(`the link closed: ${this.#closeReason}`);
      conn.send(FrameType.CodeBegin, [
        encoder.encode(JSON.stringify({ hash, size: bytes.length })),
      ]);
      for (let at = 0; at < bytes.length; at += CODE_CHUNK_BYTES) {
        conn.send(FrameType.CodeChunk, [bytes.subarray(at, at + CODE_CHUNK_BYTES)]);
        await conn.flushed();
        if (this.isClosed) throw new Error(`the link closed: ${this.#closeReason}`);
      }
      conn.send(FrameType.CodeEnd);
      this.#code.set(hash, true);
      onShipped?.(Date.now() - started);
    });
    this.#codeChain = shipping.catch(() => {});
    this.#code.set(hash, shipping);
    shipping.catch(() => this.#code.delete(hash));
    return shipping;
  }

  /** Whether the artifact `hash` was shipped (or is on its way) on this link. */
  holdsCode(hash: string): boolean {
    return this.#code.has(hash);
  }

  /**
   * Asks the runner to finish its work within `graceMs` and exit.
   *
   * @param graceMs The grace period.
   */
  shutdown(graceMs: number): void {
    this.#conn.send(FrameType.Shutdown, encodeId(Math.max(0, Math.round(graceMs))));
  }

  /** Calls in flight on this link. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Ends the link: every in-flight call rejects with `RunnerExitedError`.
   *
   * @param reason Why.
   */
  close(reason: string): void {
    if (this.#closeReason !== undefined) return;
    this.#closeReason = reason;
    clearInterval(this.#tick);
    this.#conn.close();
    for (const p of this.#pending.values()) {
      const err = new RunnerExitedError(this.id, reason);
      p.sink.settle(false, err);
      p.stream?.fail(err);
      this.#finish(p);
    }
    this.#closed.resolve(reason);
  }

  async #readLoop(): Promise<void> {
    let reason = "connection closed";
    try {
      // Every frame one socket read delivered is handled in this tick: callers
      // woken together send their next calls together, in one write.
      await this.#conn.readEach(this.#onFrame, this.#onRead);
    } catch (err) {
      reason = `protocol error: ${(err as Error).message}`;
      this.#log.warn(`runner ${this.id}: ${reason}`);
    }
    // Calls in flight are owed the reason (a shutdown's runner ends with none).
    if (this.#exited !== undefined && this.#closeReason === undefined && this.#pending.size > 0) {
      this.#connectionLost = true;
      let timer: Timer | undefined;
      const how = await Promise.race([
        this.#exited,
        new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), EXIT_REPORT_GRACE)),
      ]);
      clearTimeout(timer);
      if (how !== undefined) reason = how;
    }
    this.close(reason);
  }

  #onFrame = (frame: Frame): void => this.#handle(frame);
  #onRead = (): void => {
    this.#lastHeard = Date.now();
  };

  #handle(frame: Frame): void {
    const { type, payload, shared } = frame;
    switch (type) {
      case FrameType.Result: {
        const p = this.#pending.get(decodeResultId(payload));
        // A late result of a cancelled call is not decoded at all.
        if (p === undefined) return;
        p.sink.settle(true, decodeResultValue(payload, shared));
        this.#finish(p);
        return;
      }
      case FrameType.Error: {
        const [id, wire] = decodeError(payload, shared);
        const p = this.#pending.get(id);
        if (p === undefined) return;
        const err = remoteFailure(wire);
        if (p.stream) p.stream.fail(err);
        else p.sink.settle(false, err);
        this.#finish(p);
        return;
      }
      case FrameType.StreamChunk: {
        const [id, value] = decodeIdValue(payload, shared);
        const p = this.#pending.get(id);
        if (p === undefined) return;
        if (p.stream === undefined) {
          p.stream = new RemoteStream(
            (n) => this.#conn.send(FrameType.StreamPull, encodeId(id, n)),
            () => this.cancel(id, undefined),
          );
          p.sink.settle(true, p.stream);
        }
        p.stream.push(value);
        return;
      }
      case FrameType.StreamEnd: {
        const [id] = decodeId(payload);
        const p = this.#pending.get(id);
        if (p === undefined) return;
        if (p.stream === undefined) {
          p.stream = new RemoteStream(() => {}, () => {});
          p.sink.settle(true, p.stream);
        }
        p.stream.end();
        this.#finish(p);
        return;
      }
      case FrameType.Ping:
        this.#conn.send(FrameType.Pong);
        return;
      case FrameType.Pong:
        return;
      default:
        this.#log.warn(`runner ${this.id}: ignoring unexpected frame type ${type}`);
    }
  }
}

/**
 * What an `Error` frame means for the caller: what the function threw, or the
 * runner's refusal to send a result over the frame limit.
 */
function remoteFailure(wire: WireError): Error {
  const t = wire.tooLarge;
  if (
    wire.name === "PayloadTooLargeError" && typeof t === "object" && t !== null &&
    typeof t.size === "number" && typeof t.limit === "number"
  ) {
    return new PayloadTooLargeError(wire.message, { size: t.size, limit: t.limit });
  }
  return new RemoteError(wire);
}

/**
 * The values of a remote async generator, pulled with back-pressure: the
 * runner may run at most {@linkcode STREAM_WINDOW} values ahead of the consumer.
 * Breaking out of `for await` cancels the remote generator.
 */
export class RemoteStream implements AsyncIterableIterator<unknown> {
  #values: unknown[] = [];
  #head = 0;
  #ended = false;
  #error: { err: unknown } | undefined;
  #waiter: Resolvers<void> | undefined;
  #consumed = 0;
  #grant: (n: number) => void;
  #cancel: () => void;

  /**
   * @param grant Sends credit for `n` more values.
   * @param cancel Cancels the remote call.
   */
  constructor(grant: (n: number) => void, cancel: () => void) {
    this.#grant = grant;
    this.#cancel = cancel;
  }

  /** @param value A value from the runner. */
  push(value: unknown): void {
    this.#values.push(value);
    this.#wake();
  }

  /** The runner finished the stream. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /** @param err Why the stream failed. */
  fail(err: unknown): void {
    if (this.#ended) return;
    this.#error = { err };
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.resolve();
  }

  /** Takes the next value. */
  async next(): Promise<IteratorResult<unknown>> {
    while (true) {
      if (this.#head < this.#values.length) {
        const value = this.#values[this.#head];
        this.#values[this.#head++] = undefined;
        if (this.#head === this.#values.length) {
          this.#values = [];
          this.#head = 0;
        }
        if (++this.#consumed >= STREAM_WINDOW / 2) {
          this.#grant(this.#consumed);
          this.#consumed = 0;
        }
        return { value, done: false };
      }
      if (this.#error) throw this.#error.err;
      if (this.#ended) return { value: undefined, done: true };
      this.#waiter = withResolvers<void>();
      await this.#waiter.promise;
    }
  }

  /** Stops early: the remote generator is cancelled. */
  return(): Promise<IteratorResult<unknown>> {
    if (!this.#ended) {
      this.#ended = true;
      this.#cancel();
    }
    this.#values = [];
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
