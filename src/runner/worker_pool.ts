/**
 * The runner's call workers, seen from its main thread: where each call
 * runs, its deadline, and what happens when a worker stops answering.
 *
 * Placement. A call goes to the least-busy worker, where busy means an event
 * loop that is not free: a call waiting on I/O costs a worker nothing, a call
 * computing holds it. So calls stay on the first worker whose loop answers
 * (I/O-bound calls share one worker, its module state and caches, as on a
 * single thread), and spread to the others when it computes:
 * - a call whose target is known to return quickly (its synchronous start took
 *   under `SLOW_START_MS`, 1 ms) goes to the first worker that is not
 *   blocked, at once;
 * - a call whose target is known to compute goes to a worker whose loop is
 *   free (nothing sent to it unanswered), one at a time, else waits here;
 * - a call of a target not seen yet goes to the first worker that is not
 *   blocked if its loop is free, else waits here for that worker's answer,
 *   which tells how its target behaves.
 * A worker counts as blocked while a call known to compute is unanswered on it,
 * or when a message sent to it has been unanswered for {@linkcode SPILL_AFTER_MS}.
 *
 * Stopping. A call that is cancelled or reaches its deadline is aborted in its
 * worker (its `this.signal`). A worker that has not answered the abort within
 * {@linkcode ABORT_GRACE_MS} is running code that does not yield: it is
 * terminated and a fresh one takes its place, and every call on it fails (the
 * stopped call with its own reason; the others with a `WorkerTerminatedError`
 * naming the call that did not yield). A worker that throws an uncaught error
 * is replaced the same way (`WorkerCrashedError`).
 *
 * The main thread never runs user code, so heartbeats and the Terminator go on
 * whatever the calls do.
 *
 * @module
 */

import { type Deadline, DeadlineTimer } from "../util/deadline_timer.ts";
import { IntMap } from "../util/int_map.ts";
import type { Logger } from "../util/logger.ts";
import type { Timer } from "../util/timer.ts";
import { readUint32BE } from "../util/bytes.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { CALL_HEADER_SIZE, encodeError, FrameType } from "../protocol/messages.ts";
import type { FrameSink } from "./executor.ts";
import {
  CancelReason,
  FromWorker,
  RecordReader,
  RecordWriter,
  Reply,
  Shared,
  SHARED_BYTES,
  type SharedViews,
  sharedViews,
  ToWorker,
  WORKER_NAME,
  type WorkerExit,
  type WorkerInit,
} from "./_worker_wire.ts";
// Imported for its place in the module graph (see its module doc): `deno cache`
// and `deno compile` of runner.ts then include the worker's code.
import "./call_worker.ts";

/**
 * Milliseconds a worker has to answer once a call on it is stopped; past it,
 * the worker is terminated. An event loop that is free answers in well under a
 * millisecond; the bound leaves room for a major GC and a loaded machine.
 */
export const ABORT_GRACE_MS = 200;

/**
 * Milliseconds a message may stay unanswered before its worker counts as
 * blocked and further calls go to the next worker.
 */
export const SPILL_AFTER_MS = 25;

/**
 * Milliseconds the main thread may spin for the answer to a quick call it has
 * just sent (see {@linkcode Reply}): a worker that is awake answers a no-op in a
 * few microseconds, and catching the answer in shared memory spares an
 * event-loop wake, a good part of a warm call's cost.
 */
const SPIN_MS = 0.06;

/** The most calls in a batch the main thread spins for (more take long enough to be worth a wake). */
const SPIN_CALLS = 8;

/** Quick sends that skip the spin after a spin that caught nothing. */
const SPIN_BACKOFF = 8;

/** How many call targets' speeds are remembered. */
const SPEEDS_LIMIT = 4096;

/** Speeds learned per target. */
const FAST = 1;
const SLOW = 2;

/** `ts` from the sources, `js` in the npm build. */
const OWN_EXTENSION = import.meta.url.endsWith(".js") ? "js" : "ts";
const WORKER_URL = new URL(`./call_worker.${OWN_EXTENSION}`, import.meta.url);

/**
 * Whether a call worker can load its code: a worker reads `call_worker` and
 * the modules it imports (this package's `src/`) with the runner's
 * permissions, so a runner started with a narrow `--allow-read` (or none)
 * may not. Code that is not a local file needs no read permission.
 *
 * @returns `true` when the worker's code can be read, or is not a file.
 */
export function workerCodeReadable(): boolean {
  if (WORKER_URL.protocol !== "file:" || typeof Deno === "undefined") return true;
  const path = decodeURIComponent(new URL("../", WORKER_URL).pathname);
  return Deno.permissions.querySync({ name: "read", path }).state === "granted";
}

/** A call seen from the main thread. */
interface CallRecord extends Deadline {
  readonly id: number;
  readonly deadline: number;
  readonly key: number;
  prevDue: Deadline | null | undefined;
  nextDue: Deadline | null | undefined;
  /** Where it runs; `undefined` while it waits here. */
  worker: Slot | undefined;
  /** The number of the message it was sent in (1-based, per worker). */
  seq: number;
  /** While it waits here: its payload (own bytes). */
  payload: Uint8Array | undefined;
  /** Why it was stopped, once it was. */
  stopped: { name: string; message: string } | undefined;
}

/** One worker and what the main thread knows of it. */
interface Slot {
  readonly index: number;
  readonly worker: Worker;
  /** Its shared memory (see {@linkcode sharedViews}). */
  readonly shared: SharedViews;
  /** The number of the last message put in the request room. */
  roomSeq: number;
  /** Records for its next message. */
  readonly out: RecordWriter;
  ready: boolean;
  readyAt: number;
  gone: boolean;
  /** Messages sent, and answered (the worker's count). */
  sent: number;
  answered: number;
  /** Send times of the unanswered messages, oldest first. */
  sentAt: number[];
  /** Calls of targets known to compute, per unanswered message; and their sum. */
  sentSlow: number[];
  slowUnanswered: number;
  /** The same for the message being gathered. */
  outSlow: number;
  /** Calls in the message being gathered, and whether all are of targets known to be quick. */
  outCalls: number;
  outQuick: boolean;
  /** Targets being learned: the message they were sent in, and their key. */
  probes: { seq: number; key: number }[];
  /** Calls running on it. */
  load: number;
  /** Unanswered aborts: the message that carries each, and the call. */
  aborts: { seq: number; id: number }[];
  graceTimer: Timer | undefined;
  /** Whether it is in the list of workers with records to send. */
  dirty: boolean;
}

/** Options for {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /** This runner's id. */
  runnerId: string;
  /** How many workers (at least 1). */
  workers: number;
  /** Where warnings go (a worker terminated or crashed). */
  log: Logger;
}

/** What a {@linkcode WorkerPool} serves once the link is up. */
export interface WorkerPoolLink {
  /** The link: frames from the workers, and errors for calls on a terminated worker. */
  sink: FrameSink;
  /** Called with the number of calls under way whenever it changes. */
  onBusyChange: (busy: number) => void;
}

/** A runner's call workers. */
export class WorkerPool {
  #runnerId: string;
  #size: number;
  #log: Logger;
  #slots: Slot[] = [];
  #link: WorkerPoolLink | undefined;
  #calls = new IntMap<CallRecord>();
  #waiting: CallRecord[] = [];
  #speeds = new Map<number, number>();
  #dirty: Slot[] = [];
  #flushQueued = false;
  #spillTimer: Timer | undefined;
  #spillAt = Infinity;
  #closed = false;
  // Paused until `startTimers()`: see `Terminator.start` for why.
  #deadlines = new DeadlineTimer<CallRecord>(
    (call) => this.cancel(call.id, new DOMException("The call timed out", "TimeoutError")),
    { paused: true },
  );

  /**
   * Starts the first worker at once (it boots while the runner connects);
   * the others once it is up.
   *
   * @param options The runner id, how many workers, the logger.
   */
  constructor(options: WorkerPoolOptions) {
    this.#runnerId = options.runnerId;
    this.#size = Math.max(1, Math.floor(options.workers));
    this.#log = options.log;
    this.#spawn(0);
  }

  /** Workers in the pool. */
  get size(): number {
    return this.#size;
  }

  /**
   * Starts serving calls for an authenticated link.
   *
   * @param link Where frames go and who hears of the busy count.
   */
  attach(link: WorkerPoolLink): void {
    this.#link = link;
  }

  /**
   * Starts enforcing call timeouts (calls started before are timed from their
   * start all the same).
   */
  startTimers(): void {
    if (!this.#closed) this.#deadlines.resume();
  }

  /** Calls under way (running in a worker or waiting for one). */
  get busy(): number {
    return this.#calls.size;
  }

  /**
   * Takes a call frame's payload and sends it to a worker (or keeps it until
   * one is free); the worker decodes it.
   *
   * @param payload The call frame's payload.
   * @param shared Whether it lives in a buffer shared with other frames.
   * @throws {ProtocolError} When the call's header is malformed.
   */
  start(payload: Uint8Array, shared: boolean): void {
    const key = targetKey(payload);
    const id = readUint32BE(payload, 0);
    if (this.#closed || this.#calls.has(id)) return;
    const timeout = readUint32BE(payload, 4);
    const call: CallRecord = {
      id,
      deadline: timeout > 0 ? Date.now() + timeout : Infinity,
      key,
      prevDue: undefined,
      nextDue: undefined,
      worker: undefined,
      seq: 0,
      payload: undefined,
      stopped: undefined,
    };
    this.#calls.set(id, call);
    if (timeout > 0) this.#deadlines.add(call);
    this.#link!.onBusyChange(this.#calls.size);
    if (this.#waiting.length === 0 && this.#place(call, payload)) return;
    call.payload = shared ? payload.slice() : payload;
    this.#waiting.push(call);
    this.#armSpill();
  }

  /**
   * Stops a call: its worker aborts it (the function sees `this.signal`
   * abort) and has {@linkcode ABORT_GRACE_MS} to answer; a call still
   * waiting here just ends.
   *
   * @param id The call id.
   * @param reason The abort reason (its `name` and `message` reach the worker).
   */
  cancel(id: number, reason: unknown): void {
    const call = this.#calls.get(id);
    if (call === undefined || call.stopped !== undefined) return;
    const r = reason as { name?: unknown; message?: unknown } | undefined;
    call.stopped = {
      name: r?.name === "TimeoutError" ? "TimeoutError" : "AbortError",
      message: String(r?.message ?? reason),
    };
    const slot = call.worker;
    if (slot === undefined) {
      this.#waiting.splice(this.#waiting.indexOf(call), 1);
      this.#end(call);
      return;
    }
    slot.out.record(ToWorker.Cancel, id);
    slot.out.u8(call.stopped.name === "TimeoutError" ? CancelReason.Timeout : CancelReason.Abort);
    slot.out.text(call.stopped.message);
    slot.aborts.push({ seq: slot.sent + 1, id });
    this.#markDirty(slot);
    if (slot.graceTimer === undefined) this.#armGrace(slot);
  }

  /**
   * Grants stream credit to a call's worker.
   *
   * @param id The call id.
   * @param n How many more values may be sent.
   */
  grant(id: number, n: number): void {
    const slot = this.#calls.get(id)?.worker;
    if (slot === undefined || slot.gone) return;
    slot.out.record(ToWorker.Grant, id);
    slot.out.u32(n);
    this.#markDirty(slot);
  }

  /**
   * Aborts every call (the runner is exiting); {@linkcode WorkerPool.close} ends the workers.
   *
   * @param reason The abort reason.
   */
  cancelAll(reason: unknown): void {
    for (const call of [...this.#calls.values()]) this.cancel(call.id, reason);
    this.#deadlines.dispose();
  }

  /** Terminates every worker and stops every timer; calls still under way end unanswered. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deadlines.dispose();
    clearTimeout(this.#spillTimer);
    for (const slot of this.#slots) {
      slot.gone = true;
      clearTimeout(slot.graceTimer);
      slot.worker.terminate();
    }
    this.#waiting.length = 0;
  }

  #spawn(index: number): void {
    const worker = new Worker(WORKER_URL, { type: "module", name: WORKER_NAME });
    const shared = new SharedArrayBuffer(SHARED_BYTES);
    const slot: Slot = {
      index,
      worker,
      shared: sharedViews(shared),
      roomSeq: 0,
      out: new RecordWriter(),
      ready: false,
      readyAt: 0,
      gone: false,
      sent: 0,
      answered: 0,
      sentAt: [],
      sentSlow: [],
      slowUnanswered: 0,
      outSlow: 0,
      outCalls: 0,
      outQuick: true,
      probes: [],
      load: 0,
      aborts: [],
      graceTimer: undefined,
      dirty: false,
    };
    worker.onmessage = (event: MessageEvent) => {
      const data = event.data as Uint8Array | Uint8Array[] | WorkerExit;
      if (data instanceof Uint8Array || Array.isArray(data)) return this.#answered(slot, data);
      const slots = slot.shared.slots;
      this.#replace(
        slot,
        "WorkerExitedError",
        `a call ran Deno.exit(${data.exited}), which ends only its call worker, not the runner: return or throw instead`,
        Atomics.load(slots, Shared.Running) === 1 ? slots[Shared.RunningId]! >>> 0 : undefined,
      );
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#replace(slot, "WorkerCrashedError", `its worker crashed: ${event.message}`);
    };
    worker.onmessageerror = () => {
      this.#replace(slot, "WorkerCrashedError", "its worker sent a message that could not be read");
    };
    const init: WorkerInit = { runnerId: this.#runnerId, shared };
    worker.postMessage(init);
    this.#slots[index] = slot;
  }

  /** Whether `slot`'s event loop is free: every message sent to it answered, nothing gathered. */
  #free(slot: Slot): boolean {
    return slot.sent === slot.answered && slot.out.empty;
  }

  /** Whether `slot` is blocked: computing a call known to compute, or slow to answer. */
  #blocked(slot: Slot, now: number): boolean {
    if (slot.slowUnanswered > 0 || slot.outSlow > 0) return true;
    if (!slot.ready || slot.sent === slot.answered) return false;
    return now - Math.max(slot.sentAt[0]!, slot.readyAt) >= SPILL_AFTER_MS;
  }

  /** Sends `call` to a worker if the placement rules allow it now. */
  #place(call: CallRecord, payload: Uint8Array): boolean {
    const speed = this.#speeds.get(call.key);
    const slots = this.#slots;
    if (speed === SLOW) {
      for (let i = 0; i < slots.length; i++) {
        const s = slots[i]!;
        if (!s.gone && this.#free(s)) {
          this.#send(s, call, payload, true);
          return true;
        }
      }
      return false;
    }
    let now = 0;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if (s.gone) continue;
      if (s.sent !== s.answered || s.outSlow > 0) {
        // Only a worker with something unanswered can be blocked; read the clock then.
        if (now === 0) now = Date.now();
        if (this.#blocked(s, now)) continue;
      }
      if (speed === FAST || this.#free(s)) {
        this.#send(s, call, payload, false);
        return true;
      }
      return false;
    }
    return false;
  }

  #send(slot: Slot, call: CallRecord, payload: Uint8Array, slow: boolean): void {
    slot.out.own(ToWorker.Call, payload);
    call.worker = slot;
    call.seq = slot.sent + 1;
    call.payload = undefined;
    slot.load++;
    slot.outCalls++;
    if (slow) slot.outSlow++;
    if (this.#speeds.get(call.key) !== FAST) {
      slot.outQuick = false;
      slot.probes.push({ seq: call.seq, key: call.key });
    }
    this.#markDirty(slot);
  }

  #markDirty(slot: Slot): void {
    if (slot.dirty || slot.gone) return;
    slot.dirty = true;
    this.#dirty.push(slot);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Posts each worker's gathered records as one message (once per tick). */
  #flush = (): void => {
    this.#flushQueued = false;
    const dirty = this.#dirty;
    let spinOn: Slot | undefined;
    for (let i = 0; i < dirty.length; i++) {
      const slot = dirty[i]!;
      slot.dirty = false;
      if (slot.gone) continue;
      // A lone batch of quick calls to a worker with nothing else unanswered:
      // its answer is a few microseconds away.
      let quick = dirty.length === 1 && slot.outCalls > 0 && slot.outCalls <= SPIN_CALLS &&
        slot.outQuick && slot.ready &&
        slot.sent === slot.answered;
      if (quick && this.#spinBackoff > 0) {
        this.#spinBackoff--;
        quick = false;
      }
      // Only a worker that is awake (spinning for its next request) answers within the spin.
      if (quick && Atomics.load(slot.shared.slots, Shared.Spinning) === 0) quick = false;
      const seq = slot.sent + 1;
      const { slots, request } = slot.shared;
      if (quick) Atomics.store(slots, Shared.Reply, Reply.Waiting);
      // Through the request room when the worker has taken what was there; else posted.
      const n = Atomics.load(slots, Shared.RequestTaken) === (slot.roomSeq | 0)
        ? slot.out.takeInto(seq >>> 0, request)
        : -1;
      if (n >= 0) {
        Atomics.store(slots, Shared.RequestLength, n);
        Atomics.store(slots, Shared.RequestSeq, seq | 0);
        // A spinning worker sees it; waking a thread that is not asleep is a wasted syscall.
        if (Atomics.load(slots, Shared.Spinning) === 0) Atomics.notify(slots, Shared.RequestSeq);
        slot.roomSeq = seq;
      } else {
        const { message, transfer } = slot.out.take(seq >>> 0);
        slot.worker.postMessage(message, transfer);
      }
      slot.sent++;
      slot.sentAt.push(Date.now());
      slot.sentSlow.push(slot.outSlow);
      slot.slowUnanswered += slot.outSlow;
      slot.outSlow = 0;
      slot.outCalls = 0;
      slot.outQuick = true;
      if (quick) spinOn = slot;
    }
    dirty.length = 0;
    if (spinOn !== undefined) this.#spin(spinOn);
    // Calls waiting on a worker just sent to: look again if it turns out blocked.
    if (this.#waiting.length > 0) this.#armSpill();
  };

  #spinBackoff = 0;

  /**
   * Waits briefly for `slot`'s answer in shared memory (see {@linkcode Reply});
   * after a miss, the next few quick sends do not wait.
   */
  #spin(slot: Slot): void {
    const slots = slot.shared.slots;
    const end = performance.now() + SPIN_MS;
    do {
      if (Atomics.load(slots, Shared.Reply) === Reply.Ready) break;
    } while (performance.now() < end);
    const was = Atomics.compareExchange(slots, Shared.Reply, Reply.Waiting, Reply.Idle);
    if (was !== Reply.Ready) {
      this.#spinBackoff = SPIN_BACKOFF;
      return;
    }
    const n = Atomics.load(slots, Shared.ReplyLength);
    this.#answered(slot, slot.shared.reply.subarray(0, n));
    Atomics.store(slots, Shared.Reply, Reply.Idle);
  }

  /** A worker's message: frames for the link, call ends, what it has handled. */
  #answered(slot: Slot, data: Uint8Array | Uint8Array[]): void {
    if (slot.gone) return;
    if (!slot.ready) {
      slot.ready = true;
      slot.readyAt = Date.now();
      // The first is up: start the others.
      if (slot.index === 0) {
        for (let i = this.#slots.length; i < this.#size; i++) this.#spawn(i);
      }
    }
    const sink = this.#link?.sink;
    const r = new RecordReader(data);
    const answered = r.header;
    while (r.more) {
      const kind = r.u8();
      const value = r.u32();
      if (kind === FromWorker.End) {
        const call = this.#calls.get(value);
        if (call !== undefined && call.worker === slot) this.#end(call);
      } else if (kind === FromWorker.Slow) {
        const call = this.#calls.get(value);
        if (call !== undefined) this.#learn(call.key, SLOW);
      } else {
        const payload = r.payload(value);
        sink?.send(kind, [payload]);
      }
    }
    // The worker counts modulo 2^32.
    const newly = (answered - (slot.answered >>> 0)) >>> 0;
    if (newly > 0) this.#answeredUpTo(slot, slot.answered + newly);
    this.#slowSeen.clear();
    if (this.#waiting.length > 0) this.#drain();
  }

  #answeredUpTo(slot: Slot, answered: number): void {
    const n = answered - slot.answered;
    slot.answered = answered;
    for (let i = 0; i < n; i++) slot.slowUnanswered -= slot.sentSlow[i]!;
    slot.sentAt.splice(0, n);
    slot.sentSlow.splice(0, n);
    // Targets whose calls were handled without a `Slow` record are quick.
    if (slot.probes.length > 0) {
      let k = 0;
      for (; k < slot.probes.length && slot.probes[k]!.seq <= answered; k++) {
        const key = slot.probes[k]!.key;
        if (!this.#slowSeen.has(key)) this.#learn(key, FAST);
      }
      slot.probes.splice(0, k);
    }
    if (slot.aborts.length > 0) {
      let k = 0;
      while (k < slot.aborts.length && slot.aborts[k]!.seq <= answered) k++;
      slot.aborts.splice(0, k);
      clearTimeout(slot.graceTimer);
      slot.graceTimer = undefined;
      if (slot.aborts.length > 0) this.#armGrace(slot);
    }
  }

  /** Keys reported slow in the answer being read (so its probes are not marked quick). */
  #slowSeen = new Set<number>();

  #learn(key: number, speed: number): void {
    if (speed === SLOW) this.#slowSeen.add(key);
    if (this.#speeds.size >= SPEEDS_LIMIT && !this.#speeds.has(key)) this.#speeds.clear();
    this.#speeds.set(key, speed);
  }

  /** Places waiting calls, in order, while the rules allow. */
  #drain(): void {
    const waiting = this.#waiting;
    let k = 0;
    while (k < waiting.length && this.#place(waiting[k]!, waiting[k]!.payload!)) k++;
    if (k > 0) waiting.splice(0, k);
    this.#armSpill();
  }

  /**
   * While calls wait for a worker that may turn out blocked, looks again when
   * it would count as blocked.
   */
  #armSpill(): void {
    if (this.#waiting.length === 0 || this.#closed) return;
    let at = Infinity;
    const now = Date.now();
    for (const s of this.#slots) {
      if (s.gone || !s.ready || s.sent === s.answered || this.#blocked(s, now)) continue;
      at = Math.min(at, Math.max(s.sentAt[0]!, s.readyAt) + SPILL_AFTER_MS);
    }
    if (at === Infinity || at >= this.#spillAt) return;
    clearTimeout(this.#spillTimer);
    this.#spillAt = at;
    this.#spillTimer = setTimeout(() => {
      this.#spillTimer = undefined;
      this.#spillAt = Infinity;
      this.#drain();
    }, Math.max(0, at - now));
  }

  #armGrace(slot: Slot): void {
    slot.graceTimer = setTimeout(() => {
      slot.graceTimer = undefined;
      const first = slot.aborts[0];
      if (first === undefined || slot.gone) return;
      const slots = slot.shared.slots;
      const culprit = Atomics.load(slots, Shared.Running) === 1
        ? slots[Shared.RunningId]! >>> 0
        : undefined;
      const why = culprit === undefined || culprit === first.id
        ? `call ${first.id} did not yield within ${ABORT_GRACE_MS} ms of being stopped`
        : `call ${culprit} kept it busy without yielding for ${ABORT_GRACE_MS} ms after call ${first.id} was stopped`;
      this.#replace(slot, "WorkerTerminatedError", `its worker was terminated because ${why}`);
    }, ABORT_GRACE_MS);
  }

  /**
   * Terminates `slot`'s worker, fails its calls, starts a fresh worker in its
   * place and places waiting calls. `ran`: a call known to have started there.
   */
  #replace(slot: Slot, name: string, why: string, ran?: number): void {
    if (slot.gone || this.#closed) return;
    slot.gone = true;
    clearTimeout(slot.graceTimer);
    slot.worker.terminate();
    this.#log.warn(`runner ${this.#runnerId}: worker ${slot.index}: ${why}; starting another`);
    const sink = this.#link?.sink;
    for (const call of [...this.#calls.values()]) {
      if (call.worker !== slot) continue;
      const started = call.seq <= slot.answered || call.id === ran;
      const err = new Error(
        call.stopped !== undefined
          ? `${call.stopped.message}; ${why}`
          : `Call ${call.id} ${started ? "failed" : "did not start"}: ${why}`,
      );
      err.name = call.stopped?.name ?? name;
      if (sink !== undefined && !sink.closed) sink.send(FrameType.Error, encodeError(call.id, err));
      this.#end(call);
    }
    this.#spawn(slot.index);
    this.#drain();
  }

  #end(call: CallRecord): void {
    this.#deadlines.delete(call);
    this.#calls.delete(call.id);
    if (call.worker !== undefined) call.worker.load--;
    this.#link?.onBusyChange(this.#calls.size);
  }
}

/** Positions sampled for a target's key: enough to tell functions apart, bounded per call. */
const KEY_SAMPLES = 32;

/**
 * A number for a call's target (function source, or module specifier and
 * export), from its length and a bounded sample of its bytes: the key under
 * which its speed is remembered. Collisions only share a guess.
 *
 * @throws {ProtocolError} When the payload is too short for its header.
 */
function targetKey(payload: Uint8Array): number {
  const base = CALL_HEADER_SIZE;
  if (payload.length < base + 7) throw new ProtocolError("Malformed call message");
  const textEnd = base + 5 + readUint32BE(payload, base + 1);
  if (textEnd + 2 > payload.length) throw new ProtocolError("Malformed call message");
  const end = textEnd + 2 + ((payload[textEnd]! << 8) | payload[textEnd + 1]!);
  if (end > payload.length) throw new ProtocolError("Malformed call message");
  let h = Math.imul(0x811c9dc5 ^ (end - base), 0x01000193);
  const step = Math.max(1, Math.floor((end - base) / KEY_SAMPLES));
  for (let i = base; i < end; i += step) h = Math.imul(h ^ payload[i]!, 0x01000193);
  h = Math.imul(h ^ payload[end - 1]!, 0x01000193);
  return h >>> 0;
}
