/**
 * How many runners a pool keeps ahead of demand (headroom), and how a call
 * is retried: the policy function and its default, the retry options and the
 * backoff between attempts.
 *
 * FLAME grows only when a caller finds no free slot (`grow` in
 * `lifecycle.ts`: that stays, whatever the policy). A {@linkcode ScalingPolicy}
 * asks for more: the runners it wants are booted at once (within `max`), and
 * idle shutdown keeps that many.
 *
 * @module
 */

/** What a {@linkcode ScalingPolicy} decides from. */
export interface ScalingState {
  /** Runners up and serving (not on their way out). */
  readonly runners: number;
  /** Runners booting. */
  readonly booting: number;
  /** Calls occupying a runner slot. */
  readonly busySlots: number;
  /** Callers waiting for a slot. */
  readonly queued: number;
  /** Slots one runner offers (`maxConcurrency`, or 1 with `singleUse`). */
  readonly slotsPerRunner: number;
  /** The pool's `min`. */
  readonly min: number;
  /** The pool's `max`. */
  readonly max: number;
}

/**
 * The scaling decision: how many runners (up or booting) the pool should
 * have now. The pool boots up to it (never past `max`), and an idle runner
 * past its idle limit is kept while stopping it would go below it (never
 * below `min` either way). Waiting callers still make the pool grow as FLAME
 * does, whatever this returns.
 *
 * @example Keep one runner spare per four busy ones
 * ```ts
 * import type { ScalingPolicy } from "@flame/docker";
 *
 * const policy: ScalingPolicy = (s) =>
 *   s.busySlots === 0 ? s.min : Math.ceil(s.busySlots / s.slotsPerRunner) * 1.25;
 * ```
 */
export type ScalingPolicy = (state: ScalingState) => number;

/** Options of {@linkcode headroomPolicy}. */
export interface HeadroomOptions {
  /**
   * Boot the next runner once busy slots reach this share of the runners'
   * slots (0 < `growAt` ≤ 1; 1: only when a caller finds none free, as FLAME).
   *
   * @default {1}
   */
  growAt?: number;
  /** Runners' worth of idle slots kept beyond the busy ones while calls run. @default {0} */
  standby?: number;
}

/**
 * The built-in policy behind the `growAt` and `standby` pool options: while
 * calls run or wait (demand: busy slots plus queued callers), enough runners
 * that demand stays under `growAt` of their slots, plus `standby` runners'
 * worth of free slots; once no call runs, `min` (the rest shut down when
 * idle, as any runner does).
 *
 * @param options `growAt` and `standby`.
 * @returns The policy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { headroomPolicy } from "@flame/docker";
 *
 * const policy = headroomPolicy({ growAt: 0.75, standby: 1 });
 * const state = { runners: 1, booting: 0, queued: 0, slotsPerRunner: 4, min: 0, max: 8 };
 * assert.equal(policy({ ...state, busySlots: 0 }), 0); // idle: down to min
 * assert.equal(policy({ ...state, busySlots: 2 }), 2); // 1 runner for 2 calls, 1 standby
 * assert.equal(policy({ ...state, busySlots: 3 }), 2); // 3 of 4 slots: 75 %, grow
 * ```
 */
export function headroomPolicy(options: HeadroomOptions = {}): ScalingPolicy {
  const growAt = options.growAt ?? 1;
  const standby = options.standby ?? 0;
  return (s) => {
    // Demand: the calls running and the callers waiting for a slot.
    const demand = s.busySlots + s.queued;
    if (demand === 0) return s.min;
    const per = s.slotsPerRunner;
    const needed = Math.ceil(demand / per);
    const early = growAt < 1 ? Math.floor(demand / (per * growAt)) + 1 : needed;
    return Math.max(early, needed + standby);
  };
}

/** Error names a call can be retried on (see {@linkcode RetryOptions.on}). */
export type RetryableErrorName = "RunnerExitedError" | "BootError" | "RemoteError";

/** Retries for a call that may run twice (pool-wide, or per call). */
export interface RetryOptions {
  /** Attempts in all, the first included (≥ 1; 1: no retry). */
  attempts: number;
  /**
   * Milliseconds before the second attempt; each later wait doubles, up to
   * `maxBackoff`. No wait goes past the call's `timeout`: when the next
   * attempt could not start before it, the call rejects with the last error.
   *
   * @default {100}
   */
  backoff?: number;
  /** The longest wait between attempts, in milliseconds. @default {5000} */
  maxBackoff?: number;
  /**
   * What is retried: error names (a `RemoteError`, the function's own throw,
   * only when named here), or a predicate of the error and the attempt that
   * failed. `TimeoutError`, `AbortError`, `PoolClosedError` and errors
   * raised before sending are never retried.
   *
   * @default {["RunnerExitedError", "BootError"]}
   */
  on?: readonly RetryableErrorName[] | ((error: unknown, attempt: number) => boolean);
}

/** Retry options with every default filled in. */
export interface RetryPlan {
  readonly attempts: number;
  readonly backoff: number;
  readonly maxBackoff: number;
  readonly on: (error: unknown, attempt: number) => boolean;
}

const RETRYABLE = new Set<string>(["RunnerExitedError", "BootError", "RemoteError"]);
const DEFAULT_ON: readonly RetryableErrorName[] = ["RunnerExitedError", "BootError"];

/**
 * Validates retry options.
 *
 * @param where Whose option it is, for messages (`Pool option "retry"`).
 * @param options The options as given (`undefined` or `false`: no retries).
 * @returns The plan, or `undefined` for no retries.
 * @throws {TypeError} When a field has the wrong type or names an error that cannot be retried.
 * @throws {RangeError} When `attempts` is not an integer ≥ 1 or a wait is negative.
 */
export function resolveRetry(
  where: string,
  options: RetryOptions | false | undefined,
): RetryPlan | undefined {
  if (options === undefined || options === false) return undefined;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Invalid ${where}: expected { attempts, backoff?, maxBackoff?, on? }`);
  }
  const { attempts } = options;
  if (typeof attempts !== "number" || !Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(
      `Invalid ${where}: "attempts" must be an integer ≥ 1 (the first attempt included), got ${attempts}`,
    );
  }
  const wait = (name: "backoff" | "maxBackoff", fallback: number) => {
    const v = options[name] ?? fallback;
    if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) {
      throw new RangeError(`Invalid ${where}: "${name}" must be a non-negative number of ms`);
    }
    return v;
  };
  const backoff = wait("backoff", 100);
  const maxBackoff = Math.max(backoff, wait("maxBackoff", 5000));
  const on = options.on ?? DEFAULT_ON;
  let test: (error: unknown, attempt: number) => boolean;
  if (typeof on === "function") {
    test = on;
  } else if (Array.isArray(on)) {
    for (const name of on) {
      if (!RETRYABLE.has(name)) {
        throw new TypeError(
          `Invalid ${where}: "on" names ${
            JSON.stringify(name)
          }; only RunnerExitedError, BootError and RemoteError can be retried`,
        );
      }
    }
    const names = new Set<string>(on);
    test = (error) => names.has((error as { name?: unknown } | null)?.name as string);
  } else {
    throw new TypeError(`Invalid ${where}: "on" must be an array of error names or a function`);
  }
  return { attempts, backoff, maxBackoff, on: test };
}

/** Errors no retry applies to, whatever `on` says: the call ran out of time or was refused. */
const NEVER_RETRIED = new Set([
  "TimeoutError",
  "AbortError",
  "PoolClosedError",
  "PayloadTooLargeError",
  "DataCloneError",
]);

/**
 * Milliseconds to wait before attempt `attempt + 1`, or `undefined` when
 * `error` is not retried after attempt `attempt`.
 *
 * @param plan The retry plan.
 * @param error The failure of attempt `attempt`.
 * @param attempt The attempt that failed (1-based).
 * @returns The wait, or `undefined`.
 */
export function retryDelay(plan: RetryPlan, error: unknown, attempt: number): number | undefined {
  if (attempt >= plan.attempts) return undefined;
  if (NEVER_RETRIED.has((error as { name?: unknown } | null)?.name as string)) return undefined;
  let retry = false;
  try {
    retry = plan.on(error, attempt) === true;
  } catch {
    // A predicate that throws retries nothing.
  }
  if (!retry) return undefined;
  return Math.min(plan.maxBackoff, plan.backoff * 2 ** (attempt - 1));
}
