/**
 * A call worker: the Web Worker in which a runner runs calls, so that its
 * main thread (the link, heartbeats, the Terminator, call deadlines) never
 * waits on user code. It runs an {@linkcode Executor} whose frames it posts
 * back in batches (see `_worker_wire.ts`), answers every message it handles
 * (the main thread reads a late answer as a busy event loop), and tells the
 * main thread which call's synchronous start is running, through shared
 * memory, so a worker terminated for not yielding can name the call.
 *
 * The main thread imports this module too (so `deno cache` and `deno compile`
 * of `runner.ts` take it in); it serves calls only in a worker started under
 * {@linkcode WORKER_NAME}.
 *
 * @module
 */

import { decodeCall, encodeError, FrameType } from "../protocol/messages.ts";
import type { CallMessage } from "../protocol/messages.ts";
import { readUint32BE } from "../util/bytes.ts";
import { Executor, type FrameSink } from "./executor.ts";
import {
  CancelReason,
  FromWorker,
  HOT_SPIN_MS,
  type Posted,
  RecordReader,
  RecordWriter,
  Reply,
  Shared,
  type SharedViews,
  sharedViews,
  SLOW_START_MS,
  ToWorker,
  WORKER_NAME,
  type WorkerExit,
  type WorkerInit,
} from "./_worker_wire.ts";

/** Slack on the gap that makes a worker hot: wake-up and handling time. */
const HOT_SLACK_MS = 0.05;

/** The parts of a dedicated worker's global scope this module uses. */
interface WorkerScope {
  readonly name: string;
  postMessage(message: unknown, transfer: Transferable[]): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

/** Gathers a worker's frames and call ends; posts them once per handled message or tick. */
class Outbox implements FrameSink {
  readonly closed = false;
  #writer = new RecordWriter();
  #handled = 0;
  #inHandler = false;
  #flushQueued = false;
  #post: (posted: Posted) => void;
  #shared: SharedViews | undefined;
  #starting = false;
  #endedInStart: number[] = [];

  constructor(post: (posted: Posted) => void) {
    this.#post = post;
  }

  /** Uses shared memory for answers the main thread spins for. */
  share(views: SharedViews): void {
    this.#shared = views;
  }

  send(type: number, parts: readonly Uint8Array[], head?: Uint8Array): void {
    this.#writer.payload(type, parts, head);
    this.#soon();
  }

  /** Records that a call ended. */
  end(id: number): void {
    // During a start, after the start's `Slow` record: the main thread reads
    // that while the call is still known to it.
    if (this.#starting) this.#endedInStart.push(id);
    else this.#writer.record(FromWorker.End, id);
    this.#soon();
  }

  /** A call's synchronous start begins. */
  beginStart(): void {
    this.#starting = true;
  }

  /**
   * A call's synchronous start is over.
   *
   * @param id The call.
   * @param slow Whether it ran for {@linkcode SLOW_START_MS} or more.
   */
  endStart(id: number, slow: boolean): void {
    this.#starting = false;
    if (slow) this.#writer.record(FromWorker.Slow, id);
    const ended = this.#endedInStart;
    for (let i = 0; i < ended.length; i++) this.#writer.record(FromWorker.End, ended[i]!);
    ended.length = 0;
  }

  /** A message is being handled: what it produces leaves with its answer. */
  beginMessage(): void {
    this.#inHandler = true;
  }

  /** A message was handled: answer it (with what it produced, or nothing). */
  endMessage(): void {
    this.#inHandler = false;
    this.#handled++;
    this.#flush();
  }

  /** Posts what is gathered, or an empty answer (the worker's "ready"). */
  flushNow(): void {
    this.#flush();
  }

  #soon(): void {
    if (this.#inHandler || this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(this.#flushSoon);
  }

  #flushSoon = (): void => {
    this.#flushQueued = false;
    if (!this.#writer.empty) this.#flush();
  };

  #flush(): void {
    const shared = this.#shared;
    if (shared !== undefined && Atomics.load(shared.slots, Shared.Reply) === Reply.Waiting) {
      const n = this.#writer.takeInto(this.#handled, shared.reply);
      if (n >= 0) {
        Atomics.store(shared.slots, Shared.ReplyLength, n);
        const was = Atomics.compareExchange(shared.slots, Shared.Reply, Reply.Waiting, Reply.Ready);
        if (was === Reply.Waiting) return;
        // The main thread stopped waiting: post the answer after all.
        this.#post({ message: shared.reply.slice(0, n), transfer: [] });
        return;
      }
    }
    this.#post(this.#writer.take(this.#handled));
  }
}

/**
 * Serves calls in this worker: the first message is a {@linkcode WorkerInit},
 * every later one a numbered batch of records, posted or in the request room.
 *
 * @param scope The worker's global scope.
 */
function serveCalls(scope: WorkerScope): void {
  const outbox = new Outbox(({ message, transfer }) => scope.postMessage(message, transfer));
  // A call's `Deno.exit()` ends this worker only, silently: tell the main thread first.
  const exit = Deno.exit;
  Object.defineProperty(Deno, "exit", {
    configurable: true,
    writable: true,
    value: (code?: number): never => {
      const exited: WorkerExit = { exited: code ?? 0 };
      scope.postMessage(exited, []);
      return exit(code);
    },
  });
  let executor: Executor | undefined;
  let shared: SharedViews | undefined;
  /** The number of the next message to handle, and posted ones that came early. */
  let next = 1;
  const early = new Map<number, Uint8Array | Uint8Array[]>();

  const start = (payload: Uint8Array, isShared: boolean) => {
    let call: CallMessage;
    try {
      call = decodeCall(payload, isShared);
    } catch (err) {
      // A call this runner cannot read fails alone; the link carries on.
      const id = payload.length >= 4 ? readUint32BE(payload, 0) : 0;
      outbox.send(FrameType.Error, encodeError(id, err));
      outbox.end(id);
      return;
    }
    const slots = shared!.slots;
    slots[Shared.RunningId] = call.id;
    Atomics.store(slots, Shared.Running, 1);
    outbox.beginStart();
    const t0 = performance.now();
    executor!.start(call);
    outbox.endStart(call.id, performance.now() - t0 >= SLOW_START_MS);
    Atomics.store(slots, Shared.Running, 0);
  };

  const handle = (message: Uint8Array | Uint8Array[]) => {
    next++;
    outbox.beginMessage();
    const r = new RecordReader(message);
    while (r.more) {
      const kind = r.u8();
      if (kind === ToWorker.Call) {
        const payload = r.payload(r.u32());
        start(payload, r.shared);
      } else if (kind === ToWorker.Cancel) {
        const id = r.u32();
        const reason = r.u8();
        const text = r.text();
        executor!.cancel(
          id,
          new DOMException(text, reason === CancelReason.Timeout ? "TimeoutError" : "AbortError"),
        );
      } else if (kind === ToWorker.Grant) {
        const id = r.u32();
        executor!.grant(id, r.u32());
      } else {
        throw new Error(`Unknown record kind ${kind} from the runner's main thread`);
      }
    }
    outbox.endMessage();
  };

  /** When the worker last ran out of messages. */
  let idleSince = 0;

  /** Handles every message that is due, in order, from either path. */
  const pump = () => {
    const slots = shared!.slots;
    let handled = false;
    for (;;) {
      const posted = early.get(next >>> 0);
      if (posted !== undefined) {
        early.delete(next >>> 0);
        handled = true;
        handle(posted);
      } else if (Atomics.load(slots, Shared.RequestSeq) === (next | 0)) {
        const length = Atomics.load(slots, Shared.RequestLength);
        // Copied out (decoders must not read memory another thread writes), then the room is free.
        const bytes = shared!.request.slice(0, length);
        Atomics.store(slots, Shared.RequestTaken, next | 0);
        handled = true;
        handle(bytes);
      } else if (handled && executor!.busy === 0 && hot()) {
        // Quick calls are coming in fast and none is waiting on anything:
        // wait for the next one here rather than in the event loop (see HOT_SPIN_MS).
        if (!spinForRequest(slots)) break;
      } else {
        break;
      }
    }
    if (handled) idleSince = performance.now();
  };

  /** Whether the last message came within {@linkcode HOT_SPIN_MS} of the one before. */
  const hot = () => performance.now() - idleSince < HOT_SPIN_MS + HOT_SLACK_MS;

  /** Spins up to {@linkcode HOT_SPIN_MS} for the next message in the request room. */
  const spinForRequest = (slots: Int32Array): boolean => {
    const want = next | 0;
    Atomics.store(slots, Shared.Spinning, 1);
    const end = performance.now() + HOT_SPIN_MS;
    let got = false;
    do {
      if (Atomics.load(slots, Shared.RequestSeq) === want) {
        got = true;
        break;
      }
    } while (performance.now() < end);
    Atomics.store(slots, Shared.Spinning, 0);
    // Read again after clearing the flag: a message put in the room meanwhile
    // either is seen here or was notified (the main thread reads the flag after writing).
    return got || Atomics.load(slots, Shared.RequestSeq) === want;
  };

  /** Sleeps on the request room's number; each change may make a message due. */
  const watchRoom = async () => {
    const slots = shared!.slots;
    let seen = Atomics.load(slots, Shared.RequestSeq);
    for (;;) {
      const wait = Atomics.waitAsync(slots, Shared.RequestSeq, seen);
      if (wait.async) await wait.value;
      seen = Atomics.load(slots, Shared.RequestSeq);
      pump();
    }
  };

  scope.onmessage = (event: MessageEvent) => {
    if (executor === undefined) {
      const init = event.data as WorkerInit;
      shared = sharedViews(init.shared);
      outbox.share(shared);
      executor = new Executor({
        sink: outbox,
        runnerId: init.runnerId,
        onEnd: (id) => outbox.end(id),
      });
      watchRoom();
      pump();
      return;
    }
    const message = event.data as Uint8Array | Uint8Array[];
    early.set(readUint32BE(message instanceof Uint8Array ? message : message[0]!, 0), message);
    pump();
  };
  // The first answer says the worker is up.
  outbox.flushNow();
}
const scope = globalThis as unknown as WorkerScope;
if (
  typeof (globalThis as Record<string, unknown>).WorkerGlobalScope === "function" &&
  scope.name === WORKER_NAME
) {
  serveCalls(scope);
}
