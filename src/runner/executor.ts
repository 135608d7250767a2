/**
 * Runs calls on the runner side of an authenticated link: resolves the target
 * (shipped source or module export), applies the arguments with a
 * {@linkcode CallContext} as `this`, sends the result, error or stream.
 *
 * @module
 */

import type { Timer } from "../util/timer.ts";
import type { FrameConnection } from "../protocol/connection.ts";
import {
  type CallMessage,
  type CallTarget,
  encodeError,
  encodeId,
  encodeIdValue,
  FrameType,
} from "../protocol/messages.ts";
import type { CallContext } from "./context.ts";

/** Stream values the runner may send before the parent grants more. */
export const STREAM_WINDOW = 16;

const FN_CACHE_LIMIT = 512;

interface Running {
  controller: AbortController;
  credit: number;
  wakeCredit: (() => void) | undefined;
}

type AnyFn = (this: CallContext, ...args: unknown[]) => unknown;

/** Executes calls for one link. */
export class Executor {
  #conn: FrameConnection;
  #runnerId: string;
  #running = new Map<number, Running>();
  #fnCache = new Map<string, AnyFn>();
  #onIdleChange: (busy: number) => void;

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

  /** Calls under way. */
  get busy(): number {
    return this.#running.size;
  }

  /**
   * Starts a call; its outcome is sent on the link.
   *
   * @param call The decoded call.
   */
  start(call: CallMessage): void {
    if (this.#running.has(call.id)) return;
    const running: Running = {
      controller: new AbortController(),
      credit: STREAM_WINDOW,
      wakeCredit: undefined,
    };
    this.#running.set(call.id, running);
    this.#onIdleChange(this.#running.size);
    this.#run(call, running).finally(() => {
      this.#running.delete(call.id);
      this.#onIdleChange(this.#running.size);
    });
  }

  /**
   * Aborts a call (the function sees its signal abort; a stream is ended).
   *
   * @param id The call id.
   * @param reason The abort reason.
   */
  cancel(id: number, reason: unknown): void {
    const running = this.#running.get(id);
    if (running === undefined) return;
    running.controller.abort(reason);
    running.wakeCredit?.();
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
   * Aborts every running call.
   *
   * @param reason The abort reason.
   */
  cancelAll(reason: unknown): void {
    for (const id of [...this.#running.keys()]) this.cancel(id, reason);
  }

  async #run(call: CallMessage, running: Running): Promise<void> {
    const signal = running.controller.signal;
    let timer: Timer | undefined;
    if (call.timeout > 0) {
      timer = setTimeout(
        () => running.controller.abort(new DOMException("The call timed out", "TimeoutError")),
        call.timeout,
      );
      // A function that ignores its signal may never settle: drop the timer on abort.
      signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
    }
    try {
      const fn = await this.#resolve(call.target);
      const ctx: CallContext = { signal, runnerId: this.#runnerId };
      const result = await fn.apply(ctx, call.args);
      if (isStream(result)) {
        await this.#stream(call.id, result, running);
      } else if (!signal.aborted) {
        this.#conn.send(FrameType.Result, encodeIdValue(call.id, result));
      }
    } catch (err) {
      if (!this.#conn.closed) this.#conn.send(FrameType.Error, encodeError(call.id, err));
    } finally {
      clearTimeout(timer);
    }
  }

  async #stream(id: number, source: AsyncIterable<unknown>, running: Running): Promise<void> {
    const signal = running.controller.signal;
    for await (const value of source) {
      // The parent has stopped listening (cancel or early break): leave the loop,
      // which runs the generator's `finally` blocks.
      if (signal.aborted) break;
      this.#conn.send(FrameType.StreamChunk, encodeIdValue(id, value));
      running.credit--;
      while (running.credit <= 0 && !signal.aborted) {
        await new Promise<void>((resolve) => (running.wakeCredit = resolve));
        running.wakeCredit = undefined;
      }
      if (signal.aborted) break;
    }
    if (!signal.aborted) this.#conn.send(FrameType.StreamEnd, encodeId(id));
  }

  async #resolve(target: CallTarget): Promise<AnyFn> {
    if (target.kind === "fn") {
      let fn = this.#fnCache.get(target.source);
      if (fn === undefined) {
        fn = compileFunction(target.source);
        if (this.#fnCache.size >= FN_CACHE_LIMIT) {
          this.#fnCache.delete(this.#fnCache.keys().next().value!);
        }
        this.#fnCache.set(target.source, fn);
      }
      return fn;
    }
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

function isStream(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === "object" && v !== null &&
    typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}
