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
}

/** The defaults, in one table (`max` has none: it is required). */
export const DEFAULTS: Omit<PoolConfig, "max"> = Object.freeze({
  name: "flame",
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
  };
}
