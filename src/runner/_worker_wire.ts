/**
 * What a runner's main thread and its call workers post to each other: one
 * message per batch, the records of a tick packed into one byte array
 * (structured clone of many small objects costs more than the call), with
 * payloads of 64 KiB or more riding apart as transferred buffers.
 *
 * A message is a `Uint8Array`, or `[Uint8Array, ...big]` when big payloads
 * ride along. The bytes start with a u32 header; then records, each a kind
 * byte and its fields (big-endian u32s):
 *
 * - main → worker: `Call` (payload length, payload: the call frame's payload
 *   as the parent sent it), `Cancel` (id, reason, message length, UTF-8
 *   message), `Grant` (id, n). The header numbers the message (from 1, mod
 *   2^32): the worker handles messages in that order, whether they came
 *   posted or through the request room of shared memory.
 * - worker → main: a frame for the link (its frame type, payload length,
 *   payload), `End` (id: the call ended, with or without a frame), `Slow`
 *   (id: the call's synchronous start ran for {@linkcode SLOW_START_MS} or
 *   more). The header counts the messages the worker has handled.
 *
 * A length of {@linkcode BIG} says the payload is the message's next big buffer.
 *
 * Small messages can also go through shared memory ({@linkcode sharedViews}):
 * a posted message wakes the other thread from its event loop, which costs
 * tens of microseconds on a virtual machine; a worker waiting on
 * `Atomics.waitAsync` wakes sooner, and a main thread spinning for a quick
 * call's answer needs no wake at all.
 *
 * @module
 */

import { readUint32BE, writeUint32BE } from "../util/bytes.ts";

/** Record kinds, main thread → worker. */
export const ToWorker = { Call: 1, Cancel: 2, Grant: 3 } as const;

/** Record kinds, worker → main thread, besides frames (which carry their `FrameType`). */
export const FromWorker = { End: 0, Slow: 255 } as const;

/** Why a call is cancelled, as a `Cancel` record says it. */
export const CancelReason = { Abort: 0, Timeout: 1 } as const;

/** A length that means "the next big buffer". */
export const BIG = 0xffffffff;

/** Payloads from this size ride as buffers of their own rather than in the record bytes. */
export const BIG_MIN = 64 * 1024;

/** Bytes before the first record. */
const HEADER = 4;

/**
 * A call whose synchronous start (up to its first `await`, or its whole run)
 * takes this long or more counts as CPU-bound: the main thread then gives its
 * target's calls a worker each rather than queueing them behind one another.
 */
export const SLOW_START_MS = 1;

/** The name every call worker is started with (its module checks it before serving). */
export const WORKER_NAME = "flame-call-worker";

/** Bytes of each hand-off room in shared memory (under the link's copy-at-once frame size). */
export const ROOM_BYTES = 16 * 1024;

/** Bytes of the u32 slots ({@linkcode Shared}) before the rooms. */
const SLOTS_BYTES = 32;

/**
 * Memory each worker shares with the main thread: the slots, a request room
 * (main → worker) and a reply room (worker → main), {@linkcode ROOM_BYTES} each.
 */
export const SHARED_BYTES = SLOTS_BYTES + 2 * ROOM_BYTES;

/** The slots (`Int32Array` indexes) of the shared memory. */
export const Shared = {
  /** The id of the call whose synchronous start is running. */
  RunningId: 0,
  /** 1 while a synchronous start runs (names the culprit when a worker is terminated). */
  Running: 1,
  /** {@linkcode Reply}: whether the main thread is waiting for an answer in the reply room. */
  Reply: 2,
  /** The length of the answer in the reply room. */
  ReplyLength: 3,
  /** The number of the message in the request room (the worker waits on this slot). */
  RequestSeq: 4,
  /** The number of the last message the worker took from the request room. */
  RequestTaken: 5,
  /** The length of the message in the request room. */
  RequestLength: 6,
  /** 1 while the worker spins for the next request (a notify would be wasted). */
  Spinning: 7,
} as const;

/**
 * Milliseconds a call worker with nothing in flight spins for the next
 * request, when the last came within this long of the one before (quick calls
 * in a stream). Waking a sleeping thread costs tens of microseconds on a
 * virtual machine, more than a warm no-op call does; a hot worker takes the
 * next request without that. A worker whose requests come further apart (or
 * that has calls waiting on I/O) sleeps in its event loop as usual, so a
 * quiet runner spins at most once, this long, after its last call.
 */
export const HOT_SPIN_MS = 0.25;

/** The views of a worker's shared memory. */
export interface SharedViews {
  /** The slots. */
  slots: Int32Array;
  /** The request room. */
  request: Uint8Array;
  /** The reply room. */
  reply: Uint8Array;
}

/** Views on a worker's shared memory. */
export function sharedViews(shared: SharedArrayBuffer): SharedViews {
  return {
    slots: new Int32Array(shared, 0, SLOTS_BYTES / 4),
    request: new Uint8Array(shared, SLOTS_BYTES, ROOM_BYTES),
    reply: new Uint8Array(shared, SLOTS_BYTES + ROOM_BYTES, ROOM_BYTES),
  };
}

/**
 * The reply hand-off. The main thread, having sent a quick call and having
 * nothing else to do, sets `Waiting` and spins briefly; a worker that answers
 * while it is `Waiting` writes the answer to the reply room and sets `Ready`
 * instead of posting it, which spares the main thread an event-loop wake.
 * Whoever moves the state away from `Waiting` first decides (compare-exchange):
 * the answer is delivered exactly once.
 */
export const Reply = { Idle: 0, Waiting: 1, Ready: 2 } as const;

/** The first message a worker receives. */
export interface WorkerInit {
  /** The runner's id (`this.runnerId`). */
  runnerId: string;
  /** {@linkcode SHARED_BYTES} of memory shared with the main thread (see {@linkcode sharedViews}). */
  shared: SharedArrayBuffer;
}

/** What a worker posts as it ends because a call ran `Deno.exit()`. */
export interface WorkerExit {
  /** The exit code the call gave. */
  exited: number;
}

const encoder = new TextEncoder();

/** A posted message and what it transfers. */
export interface Posted {
  /** The message. */
  message: Uint8Array | Uint8Array[];
  /** The buffers it moves to the other thread. */
  transfer: ArrayBuffer[];
}

/** Packs the records of one batch. */
export class RecordWriter {
  #buf = new Uint8Array(1024);
  #len = HEADER;
  #big: Uint8Array[] = [];

  /** Whether no record was written since the last {@linkcode RecordWriter.take}. */
  get empty(): boolean {
    return this.#len === HEADER && this.#big.length === 0;
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
  }

  /** Writes a kind byte and a u32. */
  record(kind: number, value: number): void {
    this.#room(5);
    this.#buf[this.#len] = kind;
    writeUint32BE(this.#buf, this.#len + 1, value);
    this.#len += 5;
  }

  /** Appends a u32 to the current record. */
  u32(value: number): void {
    this.#room(4);
    writeUint32BE(this.#buf, this.#len, value);
    this.#len += 4;
  }

  /** Appends a byte to the current record. */
  u8(value: number): void {
    this.#room(1);
    this.#buf[this.#len++] = value;
  }

  /** Appends a u16 length and the UTF-8 of `text` (cut at 64 KiB). */
  text(text: string): void {
    const bytes = encoder.encode(text).subarray(0, 0xffff);
    this.#room(2 + bytes.length);
    this.#buf[this.#len] = bytes.length >> 8;
    this.#buf[this.#len + 1] = bytes.length & 0xff;
    this.#buf.set(bytes, this.#len + 2);
    this.#len += 2 + bytes.length;
  }

  /**
   * Writes a record of `kind` carrying a payload: `head` then `parts`. A big
   * payload is gathered into a buffer of its own (transferred; the parts may
   * be the caller's data, which must not be detached).
   */
  payload(kind: number, parts: readonly Uint8Array[], head?: Uint8Array): void {
    let length = head === undefined ? 0 : head.length;
    for (let i = 0; i < parts.length; i++) length += parts[i]!.length;
    if (length >= BIG_MIN) {
      const own = new Uint8Array(length);
      let at = 0;
      if (head !== undefined) {
        own.set(head);
        at = head.length;
      }
      for (let i = 0; i < parts.length; i++) {
        own.set(parts[i]!, at);
        at += parts[i]!.length;
      }
      this.record(kind, BIG);
      this.#big.push(own);
      return;
    }
    this.record(kind, length);
    this.#room(length);
    let at = this.#len;
    if (head !== undefined) {
      this.#buf.set(head, at);
      at += head.length;
    }
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (p.length < 16) {
        for (let j = 0; j < p.length; j++) this.#buf[at + j] = p[j]!;
      } else {
        this.#buf.set(p, at);
      }
      at += p.length;
    }
    this.#len = at;
  }

  /**
   * Writes a record of `kind` whose payload is `bytes`, given away: a big one
   * is transferred as it is when it is a whole buffer of its own.
   */
  own(kind: number, bytes: Uint8Array): void {
    if (
      bytes.length >= BIG_MIN && bytes.byteOffset === 0 &&
      bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ) {
      this.record(kind, BIG);
      this.#big.push(bytes);
      return;
    }
    this.payload(kind, [bytes]);
  }

  /**
   * Copies the batch into `target` (the writer starts over) when it fits and
   * carries no big payload.
   *
   * @param header The header's u32.
   * @param target Where to copy it.
   * @returns The bytes written, or `-1` (nothing taken) when it does not fit.
   */
  takeInto(header: number, target: Uint8Array): number {
    const n = this.#len;
    if (this.#big.length > 0 || n > target.length) return -1;
    writeUint32BE(this.#buf, 0, header);
    target.set(this.#buf.subarray(0, n));
    this.#len = HEADER;
    return n;
  }

  /**
   * The batch as a message (the writer starts over).
   *
   * @param header The header's u32.
   */
  take(header: number): Posted {
    writeUint32BE(this.#buf, 0, header);
    const bytes = this.#buf.slice(0, this.#len);
    this.#len = HEADER;
    // Small bytes are copied: moving an `ArrayBuffer` costs more than copying a few KiB.
    if (this.#big.length === 0) return { message: bytes, transfer: [] };
    const big = this.#big;
    this.#big = [];
    const transfer: ArrayBuffer[] = [];
    for (const b of big) transfer.push(b.buffer as ArrayBuffer);
    return { message: [bytes, ...big], transfer };
  }
}

/** Reads the records of one message. */
export class RecordReader {
  /** The record bytes. */
  readonly bytes: Uint8Array;
  /** The read position. */
  at = HEADER;
  #big: Uint8Array[] | undefined;
  #nextBig = 0;

  /** @param message A posted message. */
  constructor(message: Uint8Array | Uint8Array[]) {
    if (message instanceof Uint8Array) {
      this.bytes = message;
    } else {
      this.bytes = message[0]!;
      this.#big = message;
      this.#nextBig = 1;
    }
  }

  /** The header's u32. */
  get header(): number {
    return readUint32BE(this.bytes, 0);
  }

  /** Whether records remain. */
  get more(): boolean {
    return this.at < this.bytes.length;
  }

  /** The next byte. */
  u8(): number {
    return this.bytes[this.at++]!;
  }

  /** The next u32. */
  u32(): number {
    const v = readUint32BE(this.bytes, this.at);
    this.at += 4;
    return v;
  }

  /** The next u16-length-prefixed UTF-8 text. */
  text(): string {
    const n = (this.bytes[this.at]! << 8) + this.bytes[this.at + 1]!;
    const s = new TextDecoder().decode(this.bytes.subarray(this.at + 2, this.at + 2 + n));
    this.at += 2 + n;
    return s;
  }

  /**
   * Whether the last {@linkcode RecordReader.payload} is a view into the
   * record bytes (shared with other records) rather than a buffer of its own.
   */
  shared = false;

  /**
   * The next payload (after its length was read by the caller as `length`):
   * a view into the record bytes, or a big buffer of its own.
   *
   * @returns The bytes ({@linkcode RecordReader.shared} says which kind).
   */
  payload(length: number): Uint8Array {
    if (length === BIG) {
      this.shared = false;
      return this.#big![this.#nextBig++]!;
    }
    this.shared = true;
    const bytes = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return bytes;
  }
}
