/**
 * Runs calls in this JavaScript realm: resolves the target (shipped source or
 * module export), applies the arguments with a {@linkcode CallContext} as
 * `this`, sends the result, error or stream to a {@linkcode FrameSink}. A
 * runner runs one in each call worker (the sink posts to the runner's main
 * thread), or one on its main thread with the link as the sink.
 *
 * @module
 */

import { type Deadline, DeadlineTimer } from "../util/deadline_timer.ts";
import { IntMap } from "../util/int_map.ts";
import {
  type CallMessage,
  type CallTarget,
  checkResultSize,
  encodeError,
  encodeId,
  encodeIdValue,
  FrameType,
  RESULT_HEADER_SIZE,
  RESULT_NAME,
  STREAM_WINDOW,
  writeResultHeader,
} from "../protocol/messages.ts";
import { encodeValue } from "../protocol/codec.ts";
import type { CallContext } from "../protocol/call_context.ts";
import { codeDirFor, resolveCodeImports, resolveCodeSpecifier } from "./code_store.ts";

const FN_CACHE_LIMIT = 512;

type AnyFn = (this: CallContext, ...args: unknown[]) => unknown;

/**
 * One running call, and the `this` its function sees. The `AbortController`
 * behind `signal` is made only when the function reads `signal` (most never
 * do), so a cancel before that just records the reason.
 */
class RunningCall implements CallContext {
  readonly runnerId: string;
  /** Deadline (`Date.now()` ms) for the runner's own timeout; `Infinity`: none. */
  readonly deadline: number;
  readonly id: number;
  readonly attempt: number;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  credit = STREAM_WINDOW;
  wakeCredit: (() => void) | undefined;
  /** Links of the executor's deadline list. */
  prevDue: Deadline | null | undefined = undefined;
  nextDue: Deadline | null | undefined = undefined;

  constructor(id: number, runnerId: string, deadline: number, attempt: number) {
    this.id = id;
    this.runnerId = runnerId;
    this.deadline = deadline;
    this.attempt = attempt;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.wakeCredit?.();
  }
}

/** Where an {@linkcode Executor} sends its frames: the link, or a worker's outbox. */
export interface FrameSink {
  /** Whether frames are no longer delivered. */
  readonly closed: boolean;
  /**
   * Queues a frame (as `FrameConnection.send`: `head` is copied at once; large parts may be
   * written later, so they must not change).
   */
  send(type: number, parts: readonly Uint8Array[], head?: Uint8Array): void;
}

/** Options for {@linkcode Executor}. */
export interface ExecutorOptions {
  /** Where results, errors and stream values go. */
  sink: FrameSink;
  /** This runner's id (`this.runnerId` in calls). */
  runnerId: string;
  /** Called with the number of running calls whenever it changes. */
  onBusyChange?: (busy: number) => void;
  /** Called once when a call ends, whether or not it sent a frame. */
  onEnd?: (id: number) => void;
}

/** Executes calls in this realm. */
export class Executor {
  #sink: FrameSink;
  #runnerId: string;
  #running = new IntMap<RunningCall>();
  #fnCache = new Map<string, AnyFn>();
  #onIdleChange: ((busy: number) => void) | undefined;
  #onEnd: ((id: number) => void) | undefined;
  // Paused until `startTimers()`: see `Terminator.start` for why.
  #deadlines = new DeadlineTimer<RunningCall>(
    (call) => call.abort(new DOMException("The call timed out", "TimeoutError")),
    { paused: true },
  );
  #disposed = false;
  /** A result's header, rewritten per result (`send` copies it at once). */
  #head = new Uint8Array(RESULT_HEADER_SIZE);

  /**
   * @param options Where frames go, the runner id, hooks.
   */
  constructor(options: ExecutorOptions) {
    this.#sink = options.sink;
    this.#runnerId = options.runnerId;
    this.#onIdleChange = options.onBusyChange;
    this.#onEnd = options.onEnd;
  }

  /**
   * Starts enforcing call timeouts (calls started before are timed from their
   * start all the same; one already past its deadline is aborted at once).
   * A call worker never calls it: the runner's main thread keeps the
   * deadlines there, so that a call that never yields is stopped all the same.
   */
  startTimers(): void {
    if (!this.#disposed) this.#deadlines.resume();
  }

  /** Calls under way. */
  get busy(): number {
    return this.#running.size;
  }

  /**
   * Starts a call; its outcome is sent on the link. A function shipped by
   * source that returns a plain value is answered before this returns.
   *
   * @param call The decoded call.
   */
  start(call: CallMessage): void {
    if (this.#running.has(call.id)) return;
    const running = new RunningCall(
      call.id,
      this.#runnerId,
      call.timeout > 0 ? Date.now() + call.timeout : Infinity,
      call.attempt ?? 1,
    );
    this.#running.set(call.id, running);
    if (call.timeout > 0 && !this.#disposed) this.#deadlines.add(running);
    this.#onIdleChange?.(this.#running.size);
    let result: unknown;
    try {
      const fn = call.target.kind === "fn" ? this.#compiled(call.target.source) : undefined;
      if (fn === undefined) {
        this.#settle(running, this.#runModule(call, running));
        return;
      }
      result = fn.apply(running, call.args);
    } catch (err) {
      this.#fail(running, err);
      this.#end(running);
      return;
    }
    if (isThenable(result)) {
      this.#settle(running, Promise.resolve(result).then((value) => this.#deliver(running, value)));
      return;
    }
    if (isStream(result)) {
      this.#settle(running, this.#stream(result, running));
      return;
    }
    if (!running.aborted) this.#sendResult(running, result);
    this.#end(running);
  }

  /** Sends a value back, or the error that it cannot cross the wire. */
  #sendResult(running: RunningCall, value: unknown): void {
    let parts: Uint8Array[];
    try {
      parts = encodeValue(value, RESULT_NAME);
    } catch (err) {
      this.#fail(running, err);
      return;
    }
    // Over the frame limit the parent would end the link: say so instead.
    const tooLarge = checkResultSize(running.id, parts, { head: RESULT_HEADER_SIZE });
    if (tooLarge !== undefined) {
      this.#sink.send(FrameType.Error, tooLarge);
      return;
    }
    writeResultHeader(this.#head, 0, running.id);
    this.#sink.send(FrameType.Result, parts, this.#head);
  }

  /**
   * Aborts a call (the function sees its signal abort; a stream is ended).
   *
   * @param id The call id.
   * @param reason The abort reason.
   */
  cancel(id: number, reason: unknown): void {
    this.#running.get(id)?.abort(reason);
  }

  /**
   * Grants stream credit.
   *
   * @param id The call id.
   * @param n How many more values may be sent.
   */
  grant(id: number, n: number): void {
    const running = this.#running.get(id);
    if (running === undefined) return;
    running.credit += n;
    running.wakeCredit?.();
  }

  /**
   * Aborts every running call and stops the timeout timer.
   *
   * @param reason The abort reason.
   */
  cancelAll(reason: unknown): void {
    for (const call of this.#running.values()) this.cancel(call.id, reason);
    this.#disposed = true;
    this.#deadlines.dispose();
  }

  async #runModule(call: CallMessage, running: RunningCall): Promise<void> {
    const target = call.target as Extract<CallTarget, { kind: "module" }>;
    const fn = await this.#importExport(target);
    await this.#deliver(running, await fn.apply(running, call.args));
  }

  async #deliver(running: RunningCall, result: unknown): Promise<void> {
    if (isStream(result)) {
      await this.#stream(result, running);
    } else if (!running.aborted) {
      this.#sendResult(running, result);
    }
  }

  #settle(running: RunningCall, work: Promise<void>): void {
    work.then(
      () => this.#end(running),
      (err) => {
        this.#fail(running, err);
        this.#end(running);
      },
    );
  }

  #fail(running: RunningCall, err: unknown): void {
    if (!this.#sink.closed) this.#sink.send(FrameType.Error, encodeError(running.id, err));
  }

  #end(running: RunningCall): void {
    this.#deadlines.delete(running);
    this.#running.delete(running.id);
    this.#onEnd?.(running.id);
    this.#onIdleChange?.(this.#running.size);
  }

  async #stream(source: AsyncIterable<unknown>, running: RunningCall): Promise<void> {
    const id = running.id;
    for await (const value of source) {
      // The parent has stopped listening (cancel or early break): leave the loop,
      // which runs the generator's `finally` blocks.
      if (running.aborted) break;
      const chunk = encodeIdValue(id, value);
      const tooLarge = checkResultSize(id, chunk, { stream: true });
      if (tooLarge !== undefined) {
        this.#sink.send(FrameType.Error, tooLarge);
        return;
      }
      this.#sink.send(FrameType.StreamChunk, chunk);
      running.credit--;
      while (running.credit <= 0 && !running.aborted) {
        await new Promise<void>((resolve) => (running.wakeCredit = resolve));
        running.wakeCredit = undefined;
      }
      if (running.aborted) break;
    }
    if (!running.aborted) this.#sink.send(FrameType.StreamEnd, encodeId(id));
  }

  #compiled(source: string): AnyFn {
    let fn = this.#fnCache.get(source);
    if (fn === undefined) {
      fn = compileFunction(resolveCodeImports(codeDirFor(this.#runnerId), source));
      if (this.#fnCache.size >= FN_CACHE_LIMIT) {
        this.#fnCache.delete(this.#fnCache.keys().next().value!);
      }
      this.#fnCache.set(source, fn);
    }
    return fn;
  }

  async #importExport(target: Extract<CallTarget, { kind: "module" }>): Promise<AnyFn> {
    const mod = await import(
      resolveCodeSpecifier(codeDirFor(this.#runnerId), target.specifier)
    ) as Record<string, unknown>;
    const fn = mod[target.name];
    if (typeof fn !== "function") {
      throw new TypeError(
        `Module "${target.specifier}" has no function export "${target.name}"`,
      );
    }
    return fn as AnyFn;
  }
}

/**
 * Turns shipped function source back into a function, in global scope (an
 * indirect eval: no access to this module's variables).
 *
 * @param source The function's source text.
 * @returns The function.
 * @throws {TypeError} When the source is not a function expression.
 */
export function compileFunction(source: string): AnyFn {
  const fn = (0, eval)(`(${source}\n)`);
  if (typeof fn !== "function") {
    throw new TypeError("The shipped source does not evaluate to a function");
  }
  return fn as AnyFn;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === "object" || typeof v === "function") && v !== null &&
    typeof (v as PromiseLike<unknown>).then === "function";
}

function isStream(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === "object" && v !== null &&
    typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}
