/**
 * Runs calls on the runner side of an authenticated link: resolves the target
 * (shipped source or module export), applies the arguments with a
 * {@linkcode CallContext} as `this`, sends the result, error or stream.
 *
 * @module
 */

import { type Deadline, DeadlineTimer } from "../util/deadline_timer.ts";
import { IntMap } from "../util/int_map.ts";
import type { FrameConnection } from "../protocol/connection.ts";
import {
  type CallMessage,
  type CallTarget,
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
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  credit = STREAM_WINDOW;
  wakeCredit: (() => void) | undefined;
  /** Links of the executor's deadline list. */
  prevDue: Deadline | null | undefined = undefined;
  nextDue: Deadline | null | undefined = undefined;

  constructor(id: number, runnerId: string, deadline: number) {
    this.id = id;
    this.runnerId = runnerId;
    this.deadline = deadline;
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

/** Executes calls for one link. */
export class Executor {
  #conn: FrameConnection;
  #runnerId: string;
  #running = new IntMap<RunningCall>();
  #fnCache = new Map<string, AnyFn>();
  #onIdleChange: (busy: number) => void;
  // Paused until `startTimers()`: see `Terminator.start` for why.
  #deadlines = new DeadlineTimer<RunningCall>(
    (call) => call.abort(new DOMException("The call timed out", "TimeoutError")),
    { paused: true },
  );
  #disposed = false;
  /** A result's header, rewritten per result (`send` copies it at once). */
  #head = new Uint8Array(RESULT_HEADER_SIZE);

  /**
   * @param conn The authenticated link.
   * @param runnerId This runner's id.
   * @param onBusyChange Called with the number of running calls whenever it changes.
   */
  constructor(conn: FrameConnection, runnerId: string, onBusyChange: (busy: number) => void) {
    this.#conn = conn;
    this.#runnerId = runnerId;
    this.#onIdleChange = onBusyChange;
  }

  /**
   * Starts enforcing call timeouts (calls started before are timed from their
   * start all the same; one already past its deadline is aborted at once).
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
    );
    this.#running.set(call.id, running);
    if (call.timeout > 0 && !this.#disposed) this.#deadlines.add(running);
    this.#onIdleChange(this.#running.size);
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
    writeResultHeader(this.#head, 0, running.id);
    this.#conn.send(FrameType.Result, parts, this.#head);
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
    if (!this.#conn.closed) this.#conn.send(FrameType.Error, encodeError(running.id, err));
  }

  #end(running: RunningCall): void {
    this.#deadlines.delete(running);
    this.#running.delete(running.id);
    this.#onIdleChange(this.#running.size);
  }

  async #stream(source: AsyncIterable<unknown>, running: RunningCall): Promise<void> {
    const id = running.id;
    for await (const value of source) {
      // The parent has stopped listening (cancel or early break): leave the loop,
      // which runs the generator's `finally` blocks.
      if (running.aborted) break;
      this.#conn.send(FrameType.StreamChunk, encodeIdValue(id, value));
      running.credit--;
      while (running.credit <= 0 && !running.aborted) {
        await new Promise<void>((resolve) => (running.wakeCredit = resolve));
        running.wakeCredit = undefined;
      }
      if (running.aborted) break;
    }
    if (!running.aborted) this.#conn.send(FrameType.StreamEnd, encodeId(id));
  }

  #compiled(source: string): AnyFn {
    let fn = this.#fnCache.get(source);
    if (fn === undefined) {
      fn = compileFunction(source);
      if (this.#fnCache.size >= FN_CACHE_LIMIT) {
        this.#fnCache.delete(this.#fnCache.keys().next().value!);
      }
      this.#fnCache.set(source, fn);
    }
    return fn;
  }

  async #importExport(target: Extract<CallTarget, { kind: "module" }>): Promise<AnyFn> {
    const mod = await import(target.specifier) as Record<string, unknown>;
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
