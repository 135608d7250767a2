/**
 * One call's record, from `pool.call()` to its outcome: the promise the
 * caller holds, its deadline, its abort listener, its place in the queue and
 * the link's sink for its result.
 *
 * @module
 */

import { AbortError, RemoteError, RunnerExitedError, TimeoutError } from "../errors.ts";
import type { CallTarget } from "../protocol/messages.ts";
import type { Deadline } from "../util/deadline_timer.ts";
import { withResolvers } from "../util/promise.ts";
import type { Runner } from "./placement.ts";
import { retryDelay, type RetryPlan } from "./scaling.ts";
import type { Artifact } from "./code_sync.ts";
import type { Timer } from "../util/timer.ts";
import type { Waiter } from "./queue.ts";
import type { CallSink } from "./runner_link.ts";

/** What a {@linkcode PoolCall} needs of its pool. */
export interface CallHost {
  /** The call no longer occupies `runner`. */
  release(runner: Runner): void;
  /** Queues the call's waiter and grows the pool if it may. */
  enqueue(waiter: Waiter): void;
  /** A queued waiter gave up. */
  unqueue(): void;
  /** The call settled (before its promise's callbacks run). */
  ended(call: PoolCall, ok: boolean, value: unknown): void;
  /** `call`'s attempt failed with `error`; it is tried again in `delayMs`. */
  retrying(call: PoolCall, error: unknown, delayMs: number): void;
  /** Places `call` again for its next attempt (a free slot, or the queue). */
  resend(call: PoolCall): void;
  /** Code sync shipped `artifact` to `runner` in `ms`. */
  codeShipped(runner: Runner, artifact: Artifact, ms: number): void;
}

/**
 * One call, from `pool.call()` to its outcome: the promise the caller holds,
 * the deadline entry, the abort listener and the link's sink, all one object,
 * so a call costs no closures.
 */
export class PoolCall implements CallSink, EventListenerObject {
  readonly promise: Promise<unknown>;
  readonly target: CallTarget;
  readonly startedAt = Date.now();
  /** `Date.now()` milliseconds when the call times out (`Infinity`: never). */
  readonly deadline: number;
  /** Links of the pool's deadline list. */
  prevDue: Deadline | null | undefined = undefined;
  nextDue: Deadline | null | undefined = undefined;
  runner: Runner | undefined;
  #resolve!: (value: unknown) => void;
  #reject!: (reason: unknown) => void;
  #host: CallHost;
  #body: readonly Uint8Array[];
  #timeout: number;
  #signal: AbortSignal | undefined;
  #onPlaced: ((runnerId: string) => void) | undefined;
  #callId = 0;
  #waiter: Waiter | undefined;
  #settled = false;
  #retry: RetryPlan | undefined;
  #retryTimer: Timer | undefined;
  /** Code artifacts the runner must hold before the call is sent (code sync). */
  #code: readonly Artifact[] | undefined;
  /** Which attempt is under way (1 the first). */
  attempt = 1;

  constructor(
    host: CallHost,
    target: CallTarget,
    body: readonly Uint8Array[],
    timeout: number,
    signal: AbortSignal | undefined,
    onPlaced: ((runnerId: string) => void) | undefined,
    retry?: RetryPlan,
    code?: readonly Artifact[],
  ) {
    this.#retry = retry;
    this.#code = code;
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#host = host;
    this.target = target;
    this.#body = body;
    this.#timeout = timeout;
    this.deadline = Number.isFinite(timeout) ? this.startedAt + timeout : Infinity;
    this.#signal = signal;
    this.#onPlaced = onPlaced;
  }

  /** Sends the call to `runner`, which has been taken for it. */
  send(runner: Runner, waited: boolean): void {
    this.runner = runner;
    const code = this.#code;
    if (code !== undefined) {
      // Code sync: the artifacts go first, once per link (the call waits, holding its slot).
      let shipping: Promise<void>[] | undefined;
      for (const artifact of code) {
        const p = runner.link.shipCode(
          artifact.hash,
          artifact.bytes,
          (ms) => this.#host.codeShipped(runner, artifact, ms),
        );
        if (p !== undefined) (shipping ??= []).push(p);
      }
      if (shipping !== undefined) {
        Promise.all(shipping).then(() => {
          if (this.#settled) this.#host.release(runner);
          else this.#sendNow(runner, true);
        }, (err) => {
          this.#host.release(runner);
          this.#finish(
            false,
            new RunnerExitedError(
              runner.id,
              `its code could not be shipped: ${(err as Error).message}`,
            ),
          );
        });
        return;
      }
    }
    this.#sendNow(runner, waited);
  }

  #sendNow(runner: Runner, waited: boolean): void {
    const remaining = this.deadline === Infinity
      ? 0
      : waited
      ? Math.max(1, this.deadline - Date.now())
      : this.#timeout;
    this.#callId = runner.link.call(this.#body, remaining, this, this.attempt);
    this.#onPlaced?.(runner.id);
  }

  /** Waits for a runner. */
  queue(): void {
    const w = withResolvers<Runner>();
    this.#waiter = { resolve: w.resolve, reject: w.reject, settled: false };
    this.#host.enqueue(this.#waiter);
    w.promise.then((runner) => {
      // Timed out or aborted while queued: a slot handed over meanwhile goes back.
      if (this.#settled) this.#host.release(runner);
      else this.send(runner, true);
    }, (err) => this.#finish(false, err));
  }

  /** From the link: the outcome. */
  settle(ok: boolean, value: unknown): void {
    this.#finish(ok, ok || this.target.kind !== "fn" ? value : withClosureHint(value));
  }

  /** From the link: the runner is free of this call (a stream's last value is in). */
  done(): void {
    // Kept until now: aborting the signal also ends a stream already under way
    // (and a call waiting to be retried still listens).
    if (this.#settled) this.#signal?.removeEventListener("abort", this);
    this.#host.release(this.runner!);
  }

  /** From the deadline timer. */
  expire(): void {
    this.#cancel(new TimeoutError(`Call timed out after ${this.#timeout} ms`));
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    this.#cancel(signalError(this.#signal!.reason));
  }

  #cancel(reason: unknown): void {
    if (this.#settled) {
      // Settled with a stream that is still running: the signal ends it (its
      // consumer's next read throws `reason`).
      if (this.runner !== undefined && this.#callId !== 0) {
        this.runner.link.cancel(this.#callId, reason);
      }
      return;
    }
    const waiter = this.#waiter;
    if (waiter !== undefined && !waiter.settled) {
      waiter.settled = true;
      this.#host.unqueue();
    }
    if (this.runner !== undefined && this.#callId !== 0) {
      this.runner.link.cancel(this.#callId, reason);
    }
    this.#finish(false, reason);
  }

  /**
   * Ends the call now with `error` (the pool is closing while it waits to be retried).
   *
   * @param error What the caller gets.
   */
  abandon(error: unknown): void {
    this.#retry = undefined;
    this.#finish(false, error);
  }

  /** Whether it waits between two attempts. */
  get retrying(): boolean {
    return this.#retryTimer !== undefined;
  }

  /**
   * Schedules the next attempt after `error` when the plan retries it and it
   * can start before the deadline; returns whether it did.
   */
  #retryLater(error: unknown): boolean {
    const delay = retryDelay(this.#retry!, error, this.attempt);
    if (delay === undefined || Date.now() + delay >= this.deadline) return false;
    // The attempt's hold on its runner (if any) is released by `done()`; the
    // next attempt is placed afresh, never synchronously (`done()` may follow).
    this.#callId = 0;
    this.#waiter = undefined;
    this.#host.retrying(this, error, delay);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.attempt++;
      this.#host.resend(this);
    }, delay);
    return true;
  }

  #finish(ok: boolean, value: unknown): void {
    if (this.#settled) return;
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
    if (!ok && this.#retry !== undefined && this.#retryLater(value)) return;
    this.#settled = true;
    // A value from the runner is followed by `done()`, which removes it.
    if (!ok) this.#signal?.removeEventListener("abort", this);
    if (ok) this.#resolve(value);
    else this.#reject(value);
    this.#host.ended(this, ok, value);
  }
}

/**
 * What a call aborted by its signal rejects with: the library's
 * `TimeoutError` for a timeout (`AbortSignal.timeout()`), its `AbortError`
 * for anything else; the signal's reason is the `cause`. A reason that is
 * already one of the two is used as it is.
 *
 * @param reason The signal's reason.
 * @returns The error.
 */
export function signalError(reason: unknown): AbortError | TimeoutError {
  if (reason instanceof AbortError || reason instanceof TimeoutError) return reason;
  const detail = describeReason(reason);
  return (reason as { name?: unknown } | null)?.name === "TimeoutError"
    ? new TimeoutError(`Call timed out: its signal aborted with ${detail}`, { cause: reason })
    : new AbortError(`Call aborted: its signal aborted with ${detail}`, { cause: reason });
}

function describeReason(reason: unknown): string {
  if (typeof reason === "object" && reason !== null && "message" in reason) {
    const e = reason as { name?: unknown; message?: unknown };
    return `${String(e.name ?? "Error")}: ${String(e.message)}`;
  }
  try {
    return typeof reason === "string" ? JSON.stringify(reason) : String(reason);
  } catch {
    return Object.prototype.toString.call(reason);
  }
}

function withClosureHint(err: unknown): unknown {
  if (err instanceof RemoteError && err.remoteName === "ReferenceError") {
    err.message +=
      " (a function shipped by source cannot use variables or imports from outer scopes: pass data as arguments, `await import()` a module inside the function, or call a module's exports through pool.module())";
  }
  return err;
}
