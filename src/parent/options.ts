/**
 * The pool's options: their types, their defaults (one table), and the
 * validation that turns what a user passed into a {@linkcode PoolConfig}.
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import type { FlameEventListener } from "../events.ts";
import type { Logger } from "../util/logger.ts";
import type { GrowEndEvent, GrowStartEvent, ShrinkEvent } from "./emitter.ts";
import {
  headroomPolicy,
  resolveRetry,
  type RetryOptions,
  type RetryPlan,
  type ScalingPolicy,
} from "./scaling.ts";

/** Options for {@linkcode Pool}. */
export interface PoolOptions {
  /** Starts and stops runners. One backend instance per pool. */
  backend: Backend;
  /** Most runners at once (≥ 1, ≥ `min`). */
  max: number;
  /**
   * Runners booted at start and kept.
   *
   * @default {0}
   */
  min?: number;
  /**
   * Concurrent calls per runner.
   *
   * @default {100}
   */
  maxConcurrency?: number;
  /**
   * Milliseconds per call, queueing included (`Infinity`: none).
   *
   * @default {30000}
   */
  timeout?: number;
  /**
   * Milliseconds for a runner to start, connect and authenticate.
   *
   * @default {30000}
   */
  bootTimeout?: number;
  /**
   * Milliseconds a runner above `min` may stay idle (`Infinity`: forever).
   *
   * @default {30000}
   */
  idleShutdownAfter?: number;
  /**
   * Milliseconds a runner counted in `min` may stay idle.
   *
   * @default {Infinity}
   */
  minIdleShutdownAfter?: number;
  /**
   * Each runner serves one call, then is replaced.
   *
   * @default {false}
   */
  singleUse?: boolean;
  /**
   * Headroom: boot the next runner once busy slots reach this share of the
   * runners' slots, so callers of a burst find a runner ready (0 < `growAt` ≤
   * 1; 1: only when a caller finds no free slot, as FLAME does).
   *
   * @default {1}
   */
  growAt?: number;
  /**
   * Headroom: runners' worth of idle slots kept ready beyond the busy ones
   * while calls run (within `max`); when no call runs, they shut down when
   * idle like any runner above `min`.
   *
   * @default {0}
   */
  standby?: number;
  /**
   * Replaces the scaling decision (`growAt` and `standby` then do not apply):
   * how many runners the pool wants now, given its state. See
   * {@linkcode ScalingPolicy}; `headroomPolicy()` is the built-in one.
   */
  scaling?: ScalingPolicy;
  /**
   * Retries for calls that may run twice, on `RunnerExitedError` and
   * `BootError` by default (never past the call's `timeout`); a call's own
   * `retry` option overrides it. Without it no call is ever run twice.
   */
  retry?: RetryOptions;
  /**
   * Where runners get the code of `pool.module()` specifiers (and of a
   * shipped function's `import("./relative.ts")`): `"image"`, the runner
   * imports the same specifier (the same files at the same paths: bake them
   * into the image); `"sync"`, the parent builds each module with its
   * dependencies into one artifact (`deno bundle`) and ships it to each
   * runner over the authenticated link, so a stock runner image serves any
   * app. Changed files are rebuilt; runners holding old code finish their
   * calls and are replaced when idle.
   *
   * @default {"image"}
   */
  code?: "image" | "sync";
  /**
   * The largest artifact code sync ships, in bytes.
   *
   * @default {67108864}
   */
  codeLimit?: number;
  /**
   * Milliseconds `close()` lets in-flight calls finish.
   *
   * @default {30000}
   */
  shutdownTimeout?: number;
  /**
   * Milliseconds between heartbeats on each link.
   *
   * @default {1000}
   */
  heartbeatInterval?: number;
  /**
   * Silence after which a runner (or, on its side, the parent) counts as dead.
   *
   * @default {5000}
   */
  heartbeatTimeout?: number;
  /** Called when a runner starts booting (from the `flame.runner.boot.start` event). */
  onGrowStart?: (event: GrowStartEvent) => void;
  /** Called when a boot ends, well or not (from the `flame.runner.boot.end` event). */
  onGrowEnd?: (event: GrowEndEvent) => void;
  /** Called when a runner leaves the pool (from the `flame.runner.shrink` event). */
  onShrink?: (event: ShrinkEvent) => void;
  /** Called when a `cast()` call fails (it is also logged). */
  onCastError?: (error: unknown) => void;
  /**
   * Receives structured events (boots and their phases, shrinks, calls, image
   * pulls, reaps), shaped for OpenTelemetry: a name and flat attributes. The
   * hooks above and the log lines are drawn from the same events.
   */
  onEvent?: FlameEventListener;
  /**
   * Where the pool logs (an `@std/log` Logger works). Defaults to logging nothing.
   */
  logger?: Logger;
  /**
   * The pool's name, in runner ids, labels and logs.
   *
   * @default {"flame"}
   */
  name?: string;
}

/** Per-call options. */
export interface CallOptions {
  /**
   * Milliseconds for this call, queueing included. Defaults to the pool's `timeout`.
   */
  timeout?: number;
  /** Aborting it cancels the call, on the runner too. */
  signal?: AbortSignal;
  /**
   * Retries for this call (overriding the pool's `retry`); `false`: none.
   * The function sees which attempt it is as `this.attempt`.
   */
  retry?: RetryOptions | false;
}

/** Every option's value once validated and defaulted. */
export interface PoolConfig {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly maxConcurrency: number;
  readonly timeout: number;
  readonly bootTimeout: number;
  readonly idleShutdownAfter: number;
  readonly minIdleShutdownAfter: number;
  readonly singleUse: boolean;
  readonly shutdownTimeout: number;
  readonly heartbeatInterval: number;
  readonly heartbeatTimeout: number;
  /** The scaling decision; `undefined`: FLAME's (grow only for waiting callers). */
  readonly scaling: ScalingPolicy | undefined;
  /** The pool's retry plan; `undefined`: no retries. */
  readonly retry: RetryPlan | undefined;
  /** Where runners get module code. */
  readonly code: "image" | "sync";
  /** The largest artifact code sync ships, in bytes. */
  readonly codeLimit: number;
}

/** The defaults, in one table (`max` has none: it is required). */
export const DEFAULTS: Omit<PoolConfig, "max" | "scaling" | "retry"> = Object.freeze({
  name: "flame",
  code: "image",
  codeLimit: 64 << 20,
  min: 0,
  maxConcurrency: 100,
  timeout: 30_000,
  bootTimeout: 30_000,
  idleShutdownAfter: 30_000,
  minIdleShutdownAfter: Infinity,
  singleUse: false,
  shutdownTimeout: 30_000,
  heartbeatInterval: 1000,
  heartbeatTimeout: 5000,
});

/** The longest delay a timer can hold (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

function checkInteger(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new TypeError(`Invalid Pool option "${name}": expected a number, got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`Invalid Pool option "${name}": ${value} must be an integer ≥ ${min}`);
  }
  return value;
}

function checkDuration(name: string, value: unknown, allowInfinity: boolean): number {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new TypeError(
      `Invalid Pool option "${name}": expected milliseconds, got ${typeof value}`,
    );
  }
  if (value <= 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw new RangeError(
      `Invalid Pool option "${name}": ${value} must be a positive number of milliseconds${
        allowInfinity ? " or Infinity" : ""
      }`,
    );
  }
  // Idle limits and call timeouts are reached in steps; the rest arm one timer.
  if (!allowInfinity && value > MAX_TIMER_MS) {
    throw new RangeError(
      `Invalid Pool option "${name}": ${value} exceeds the longest timer, ${MAX_TIMER_MS} ms`,
    );
  }
  return value;
}

function checkHook(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(`Invalid Pool option "${name}": expected a function`);
  }
}

/**
 * Validates `options` and fills in the defaults.
 *
 * @param options What the user passed to `new Pool()`.
 * @returns The configuration.
 * @throws {TypeError} When an option has the wrong type.
 * @throws {RangeError} When an option is out of range.
 */
export function resolvePoolOptions(options: PoolOptions): PoolConfig {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Invalid Pool options: expected an object");
  }
  const b = options.backend as Partial<Backend> | undefined;
  if (
    typeof b !== "object" || b === null || typeof b.boot !== "function" ||
    typeof b.stop !== "function" || typeof b.prepare !== "function"
  ) {
    throw new TypeError(
      'Invalid Pool option "backend": expected a Backend (e.g. new DockerBackend(...))',
    );
  }
  if (options.max === undefined) throw new TypeError('Invalid Pool option "max": it is required');
  const max = checkInteger("max", options.max, 1);
  const min = checkInteger("min", options.min ?? DEFAULTS.min, 0);
  if (min > max) {
    throw new RangeError(`Invalid Pool option "min": ${min} exceeds "max" ${max}`);
  }
  const maxConcurrency = checkInteger(
    "maxConcurrency",
    options.maxConcurrency ?? DEFAULTS.maxConcurrency,
    1,
  );
  const timeout = checkDuration("timeout", options.timeout ?? DEFAULTS.timeout, true);
  const bootTimeout = checkDuration(
    "bootTimeout",
    options.bootTimeout ?? DEFAULTS.bootTimeout,
    false,
  );
  const idleShutdownAfter = checkDuration(
    "idleShutdownAfter",
    options.idleShutdownAfter ?? DEFAULTS.idleShutdownAfter,
    true,
  );
  const minIdleShutdownAfter = checkDuration(
    "minIdleShutdownAfter",
    options.minIdleShutdownAfter ?? DEFAULTS.minIdleShutdownAfter,
    true,
  );
  if (options.singleUse !== undefined && typeof options.singleUse !== "boolean") {
    throw new TypeError('Invalid Pool option "singleUse": expected a boolean');
  }
  const singleUse = options.singleUse ?? DEFAULTS.singleUse;
  const shutdownTimeout = checkDuration(
    "shutdownTimeout",
    options.shutdownTimeout ?? DEFAULTS.shutdownTimeout,
    false,
  );
  const heartbeatInterval = checkDuration(
    "heartbeatInterval",
    options.heartbeatInterval ?? DEFAULTS.heartbeatInterval,
    false,
  );
  const heartbeatTimeout = checkDuration(
    "heartbeatTimeout",
    options.heartbeatTimeout ?? DEFAULTS.heartbeatTimeout,
    false,
  );
  if (heartbeatTimeout <= heartbeatInterval) {
    throw new RangeError(
      `Invalid Pool option "heartbeatTimeout": ${heartbeatTimeout} must exceed "heartbeatInterval" ${heartbeatInterval}`,
    );
  }
  const scaling = resolveScaling(options);
  const retry = resolveRetry('Pool option "retry"', options.retry);
  const code = options.code ?? DEFAULTS.code;
  if (code !== "image" && code !== "sync") {
    throw new TypeError(
      `Invalid Pool option "code": ${JSON.stringify(code)} must be "image" or "sync"`,
    );
  }
  const codeLimit = checkInteger("codeLimit", options.codeLimit ?? DEFAULTS.codeLimit, 1);
  for (
    const hook of ["onGrowStart", "onGrowEnd", "onShrink", "onCastError", "onEvent"] as const
  ) {
    checkHook(hook, options[hook]);
  }
  const name = options.name ?? DEFAULTS.name;
  if (typeof name !== "string" || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(name)) {
    throw new TypeError(
      `Invalid Pool option "name": ${
        JSON.stringify(name)
      } must be 1-63 letters, digits, "_", "." or "-", starting with a letter or digit`,
    );
  }
  return {
    name,
    min,
    max,
    maxConcurrency,
    timeout,
    bootTimeout,
    idleShutdownAfter,
    minIdleShutdownAfter,
    singleUse,
    shutdownTimeout,
    heartbeatInterval,
    heartbeatTimeout,
    scaling,
    retry,
    code,
    codeLimit,
  };
}

function resolveScaling(options: PoolOptions): ScalingPolicy | undefined {
  const { growAt, standby, scaling } = options;
  if (scaling !== undefined) {
    if (typeof scaling !== "function") {
      throw new TypeError('Invalid Pool option "scaling": expected a function (state) => runners');
    }
    if (growAt !== undefined || standby !== undefined) {
      throw new TypeError(
        'Invalid Pool options: "scaling" replaces "growAt" and "standby"; give one or the other',
      );
    }
    return scaling;
  }
  if (growAt !== undefined && (typeof growAt !== "number" || !(growAt > 0 && growAt <= 1))) {
    throw new RangeError(
      `Invalid Pool option "growAt": ${growAt} must be a share of capacity, above 0 and at most 1`,
    );
  }
  const spare = standby === undefined ? 0 : checkInteger("standby", standby, 0);
  if ((growAt ?? 1) === 1 && spare === 0) return undefined;
  return headroomPolicy({ growAt: growAt ?? 1, standby: spare });
}

/**
 * Checks the options `Pool.resize()` takes against each other and the rest
 * of the configuration.
 *
 * @param config The pool's configuration now.
 * @param sizes The new `min`, `max` and `maxConcurrency` (absent: unchanged).
 * @returns The three values to apply.
 * @throws {TypeError} When a value is not a number.
 * @throws {RangeError} When a value is out of range or `min` exceeds `max`.
 */
export function resolveResize(
  config: PoolConfig,
  sizes: { min?: number; max?: number; maxConcurrency?: number },
): { min: number; max: number; maxConcurrency: number } {
  if (typeof sizes !== "object" || sizes === null) {
    throw new TypeError("Invalid resize(): expected { min?, max?, maxConcurrency? }");
  }
  const max = checkInteger("max", sizes.max ?? config.max, 1);
  const min = checkInteger("min", sizes.min ?? config.min, 0);
  if (min > max) throw new RangeError(`Invalid Pool option "min": ${min} exceeds "max" ${max}`);
  const maxConcurrency = checkInteger(
    "maxConcurrency",
    sizes.maxConcurrency ?? config.maxConcurrency,
    1,
  );
  return { min, max, maxConcurrency };
}
