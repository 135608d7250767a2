/**
 * `Pool`: FLAME's pool. Places calls on the least-loaded runner with a free
 * slot, boots runners (in parallel) when none has one and the pool is below
 * `max`, queues callers FIFO otherwise, shrinks idle runners, and replaces
 * runners that die so the pool never stays below `min`.
 *
 * @module
 */

import type { Backend, RunnerHandle } from "./backends/backend.ts";
import { BootError, PoolClosedError, RemoteError, TimeoutError } from "./errors.ts";
import { ParentListener } from "./parent_listener.ts";
import { type CallTarget, encodeCallBody } from "./protocol/messages.ts";
import { generateSecret } from "./protocol/handshake.ts";
import { encodeParentEnv, PROTOCOL_VERSION } from "./protocol/parent_env.ts";
import { type CallSink, RunnerLink } from "./runner_link.ts";
import type { CallContext } from "./runner/context.ts";
import { type Logger, silentLogger } from "./util/logger.ts";
import type { Timer } from "./util/timer.ts";
import { type Deadline, DeadlineTimer } from "./util/deadline_timer.ts";
import type { FlameAttributes, FlameEventListener, FlameEventName } from "./events.ts";
import { type Resolvers, withResolvers } from "./util/promise.ts";

/** Details passed to `onGrowStart`. */
export interface GrowStartEvent {
  /** The pool's name. */
  pool: string;
  /** The runner being booted. */
  runnerId: string;
}

/** Details passed to `onGrowEnd`. */
export interface GrowEndEvent {
  /** The pool's name. */
  pool: string;
  /** The runner that was booted. */
  runnerId: string;
  /** Whether it connected and authenticated. */
  ok: boolean;
  /** Milliseconds from boot start to authenticated (or failure). */
  durationMs: number;
  /** Why it failed, when it did. */
  error?: BootError;
}

/** Details passed to `onShrink`. */
export interface ShrinkEvent {
  /** The pool's name. */
  pool: string;
  /** The runner leaving the pool. */
  runnerId: string;
  /** Why: idle, single use, exited, or the pool closing. */
  reason: "idle" | "single-use" | "exited" | "closed";
}

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
  /** Called when a runner starts booting. */
  onGrowStart?: (event: GrowStartEvent) => void;
  /** Called when a boot ends, well or not. */
  onGrowEnd?: (event: GrowEndEvent) => void;
  /** Called when a runner leaves the pool. */
  onShrink?: (event: ShrinkEvent) => void;
  /** Called when a `cast()` call fails (it is also logged). */
  onCastError?: (error: unknown) => void;
  /**
   * Receives structured events (boots and their phases, shrinks, calls, image
   * pulls, reaps), shaped for OpenTelemetry: a name and flat attributes.
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

/** A snapshot of the pool. */
export interface PoolStats {
  /** Runners connected (including ones shutting down). */
  runners: number;
  /** Runners booting. */
  booting: number;
  /** Calls occupying a runner slot. */
  busySlots: number;
  /** Callers waiting for a slot. */
  queued: number;
  /** Boots started. */
  boots: number;
  /** Boots that failed. */
  bootFailures: number;
  /** Calls that returned a value (or finished their stream). */
  callsOk: number;
  /** Calls that failed (remote error, timeout, abort, runner death). */
  callsFailed: number;
}

/** What a remote call resolves to: a value, or an async iterable for a generator. */
export type Remote<R> = [R] extends [never] ? never
  : Awaited<R> extends AsyncIterable<infer T> ? AsyncIterable<T>
  : Awaited<R>;

/** A function shipped by source: `this` is the {@linkcode CallContext}. */
export type ShippableFunction<A extends unknown[], R> = (this: CallContext, ...args: A) => R;

/**
 * The typed proxy {@linkcode Pool.module} returns: each function export,
 * called on a runner. Async-generator exports return an `AsyncIterable`.
 */
export type RemoteModule<M> = {
  // deno-lint-ignore no-explicit-any
  [K in keyof M as M[K] extends (...args: any[]) => unknown ? K : never]: RemoteMethod<M[K]>;
};

/** One method of a {@linkcode RemoteModule}. */
export type RemoteMethod<F> = F extends (...args: infer A) => infer R
  ? (...args: A) => RemoteCall<R>
  : never;

/** A call started through a module proxy: await it for the value, or iterate it for a stream. */
export type RemoteCall<R> = [R] extends [never] ? Promise<never>
  : Awaited<R> extends AsyncIterable<infer T> ? AsyncIterable<T> & PromiseLike<AsyncIterable<T>>
  : Promise<Awaited<R>>;

/** A long-lived task from {@linkcode Pool.placeChild}. */
export interface ChildHandle<R> {
  /** The runner it runs on. */
  runnerId: string;
  /** Settles with the task's outcome. */
  done: Promise<R>;
  /** Cancels the task (its signal aborts); resolves once its slot is free. */
  stop(): Promise<void>;
}

interface Runner {
  id: string;
  link: RunnerLink;
  handle: RunnerHandle;
  busy: number;
  served: number;
  idleSince: number;
  idleTimer: Timer | undefined;
  /** When `idleTimer` fires (`Date.now()` ms). */
  idleTimerAt: number;
  stopping: boolean;
}

interface Waiter {
  resolve: (runner: Runner) => void;
  reject: (err: unknown) => void;
  settled: boolean;
}

const DEFAULTS = {
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
  name: "flame",
};

function checkInteger(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new TypeError(`Invalid Pool option "${name}": expected a number, got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`Invalid Pool option "${name}": ${value} must be an integer ≥ ${min}`);
  }
  return value;
}

/** The longest delay a timer can hold (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

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

/** Shared defaults for a call without arguments or options (only ever read). */
const NO_ARGS: unknown[] = Object.freeze([]) as unknown as unknown[];
const NO_OPTIONS: CallOptions = Object.freeze({});

/** Backends serving an open pool: one backend instance per pool. */
const backendsInUse = new WeakSet<object>();

/** Sources already checked; inline arrow functions are new objects at each call but share a source. */
const checkedSources = new Set<string>();
const CHECKED_SOURCES_LIMIT = 1024;
/** The checked source of each function object seen (a function passed again skips `toString`). */
const sourceOf = new WeakMap<object, string>();

/**
 * Returns the source to ship for `fn`, or throws a `TypeError` saying why it cannot be shipped.
 *
 * @param fn The function.
 * @returns Its source text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { functionSource } from "@flame/docker";
 * assert.ok(functionSource((a: number) => a * 2).includes("a * 2"));
 * ```
 */
export function functionSource(fn: unknown): string {
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot call a ${fn === null ? "null" : typeof fn}: expected a function`);
  }
  const known = sourceOf.get(fn);
  if (known !== undefined) return known;
  const source = Function.prototype.toString.call(fn);
  if (checkedSources.has(source)) {
    sourceOf.set(fn, source);
    return source;
  }
  const label = fn.name ? `"${fn.name}"` : "(anonymous)";
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw new TypeError(
      `Cannot ship function ${label}: native and bound functions have no source to send`,
    );
  }
  if (/^class\b/.test(source)) {
    throw new TypeError(`Cannot ship ${label}: it is a class, not a function`);
  }
  try {
    new Function(`return (${source}\n)`);
  } catch {
    throw new TypeError(
      `Cannot ship function ${label}: its source is not a standalone function expression (a method shorthand?); use a function or arrow function`,
    );
  }
  if (checkedSources.size >= CHECKED_SOURCES_LIMIT) checkedSources.clear();
  checkedSources.add(source);
  sourceOf.set(fn, source);
  return source;
}

/**
 * A pool of runners that run functions for this process.
 *
 * Functions passed to {@linkcode Pool.call} are shipped as source: they must
 * be self-contained (no variables from outer scopes; pass data as arguments,
 * import modules with `await import()` inside, or use {@linkcode Pool.module}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalBackend, Pool } from "@flame/docker";
 * await using pool = new Pool({ backend: new LocalBackend(), max: 2 });
 * const sum = await pool.call((a: number, b: number) => a + b, [1, 2]);
 * assert.equal(sum, 3);
 * ```
 */
export class Pool implements AsyncDisposable {
  /**
   * The pool's name.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool } from "@flame/docker";
   *
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1, name: "thumbs" });
   * assert.equal(pool.name, "thumbs");
   * ```
   */
  readonly name: string;
  #backend: Backend;
  #log: Logger;
  #min: number;
  #max: number;
  #maxConcurrency: number;
  #timeout: number;
  #bootTimeout: number;
  #idle: number;
  #minIdle: number;
  #singleUse: boolean;
  #shutdownTimeout: number;
  #heartbeatInterval: number;
  #heartbeatTimeout: number;
  #hooks: Pick<PoolOptions, "onGrowStart" | "onGrowEnd" | "onShrink" | "onCastError">;
  #onEvent: FlameEventListener | undefined;
  #reaping: Promise<void> | undefined;

  /** Booted runners, in boot order (an array: iterating a `Set` allocates per call). */
  #runners: Runner[] = [];
  #booting = 0;
  #boots = new Set<Promise<void>>();
  #stops = new Set<Promise<void>>();
  #queue: Waiter[] = [];
  #queueHead = 0;
  #queued = 0;
  #busy = 0;
  #drained: Resolvers<void> | undefined;
  #listener: Promise<{ listener: ParentListener; dialHost: string }> | undefined;
  #closing: Promise<void> | undefined;
  #replaceTimer: Timer | undefined;
  #consecutiveBootFailures = 0;
  #stats = { boots: 0, bootFailures: 0, callsOk: 0, callsFailed: 0 };
  #deadlines = new DeadlineTimer<PoolCall>((call) => call.expire());
  /** What a call needs of the pool (one object per pool: calls carry no closures). */
  #callHost: CallHost = {
    release: (runner) => this.#release(runner),
    enqueue: (waiter) => {
      this.#enqueue(waiter);
      this.#grow();
    },
    unqueue: () => this.#queued--,
    ended: (call, ok, value) => this.#callEnded(call, ok, value),
  };

  /**
   * Creates a pool; `min` runners start booting at once.
   *
   * @param options The backend, sizes, timings and hooks.
   * @throws {TypeError} When an option has the wrong type.
   * @throws {RangeError} When an option is out of range.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool } from "@flame/docker";
   *
   * await using pool = new Pool({
   *   backend: new LocalBackend(),
   *   name: "thumbs",
   *   min: 0,
   *   max: 4,
   *   maxConcurrency: 10,
   *   timeout: 5_000,
   *   idleShutdownAfter: 10_000,
   * });
   * assert.equal(await pool.call(() => "ready"), "ready");
   *
   * assert.throws(() => new Pool({ backend: new LocalBackend(), max: 0 }), RangeError);
   * assert.throws(() => new Pool({ backend: new LocalBackend(), max: 1, min: 2 }), RangeError);
   * ```
   */
  constructor(options: PoolOptions) {
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
    this.#max = checkInteger("max", options.max, 1);
    this.#min = checkInteger("min", options.min ?? DEFAULTS.min, 0);
    if (this.#min > this.#max) {
      throw new RangeError(`Invalid Pool option "min": ${this.#min} exceeds "max" ${this.#max}`);
    }
    this.#maxConcurrency = checkInteger(
      "maxConcurrency",
      options.maxConcurrency ?? DEFAULTS.maxConcurrency,
      1,
    );
    this.#timeout = checkDuration("timeout", options.timeout ?? DEFAULTS.timeout, true);
    this.#bootTimeout = checkDuration(
      "bootTimeout",
      options.bootTimeout ?? DEFAULTS.bootTimeout,
      false,
    );
    this.#idle = checkDuration(
      "idleShutdownAfter",
      options.idleShutdownAfter ?? DEFAULTS.idleShutdownAfter,
      true,
    );
    this.#minIdle = checkDuration(
      "minIdleShutdownAfter",
      options.minIdleShutdownAfter ?? DEFAULTS.minIdleShutdownAfter,
      true,
    );
    if (options.singleUse !== undefined && typeof options.singleUse !== "boolean") {
      throw new TypeError('Invalid Pool option "singleUse": expected a boolean');
    }
    this.#singleUse = options.singleUse ?? DEFAULTS.singleUse;
    this.#shutdownTimeout = checkDuration(
      "shutdownTimeout",
      options.shutdownTimeout ?? DEFAULTS.shutdownTimeout,
      false,
    );
    this.#heartbeatInterval = checkDuration(
      "heartbeatInterval",
      options.heartbeatInterval ?? DEFAULTS.heartbeatInterval,
      false,
    );
    this.#heartbeatTimeout = checkDuration(
      "heartbeatTimeout",
      options.heartbeatTimeout ?? DEFAULTS.heartbeatTimeout,
      false,
    );
    if (this.#heartbeatTimeout <= this.#heartbeatInterval) {
      throw new RangeError(
        `Invalid Pool option "heartbeatTimeout": ${this.#heartbeatTimeout} must exceed "heartbeatInterval" ${this.#heartbeatInterval}`,
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
    this.name = name;
    if (backendsInUse.has(b)) {
      throw new TypeError(
        'Invalid Pool option "backend": this backend instance already serves another pool; give each pool its own',
      );
    }
    backendsInUse.add(b);
    this.#backend = b as Backend;
    this.#log = options.logger ?? silentLogger;
    this.#hooks = options;
    this.#onEvent = options.onEvent;
    this.#bootToMin();
  }

  /** Slots one runner offers. */
  get #perRunner(): number {
    return this.#singleUse ? 1 : this.#maxConcurrency;
  }

  /**
   * Runs `fn(...args)` on a runner and resolves with its result. An async
   * generator's values come back as an `AsyncIterable`, with back-pressure.
   *
   * @param fn A self-contained function (shipped as source); `this` is the {@linkcode CallContext}.
   * @param args Its arguments (structured-clonable).
   * @param options Timeout and abort signal.
   * @returns The result.
   * @throws {TypeError} When `fn` cannot be shipped.
   * @throws {DataCloneError} When an argument cannot cross the wire.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool } from "@flame/docker";
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
   * const out = await pool.call((s: string) => s.toUpperCase(), ["hi"], { timeout: 5000 });
   * assert.equal(out, "HI");
   * ```
   */
  call<A extends unknown[], R>(
    fn: ShippableFunction<A, R>,
    args?: A,
    options?: CallOptions,
  ): Promise<Remote<R>> {
    let target: CallTarget;
    try {
      target = { kind: "fn", source: functionSource(fn) };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#run(target, args ?? NO_ARGS, options ?? NO_OPTIONS) as Promise<Remote<R>>;
  }

  /**
   * Like {@linkcode Pool.call}, without waiting: failures go to the logger and `onCastError`.
   *
   * @param fn A self-contained function.
   * @param args Its arguments.
   * @param options Timeout and abort signal.
   *
   * @example Fire and forget, with failures reported
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool, RemoteError } from "@flame/docker";
   *
   * const failed = Promise.withResolvers<unknown>();
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1, onCastError: failed.resolve });
   * pool.cast((channel: string) => {
   *   throw new Error(`Cannot notify ${channel}`);
   * }, ["ops"]);
   * const error = await failed.promise;
   * assert.ok(error instanceof RemoteError);
   * assert.equal(error.message, "Cannot notify ops");
   * ```
   */
  cast<A extends unknown[], R>(
    fn: ShippableFunction<A, R>,
    args?: A,
    options?: CallOptions,
  ): void {
    this.call(fn, args, options).catch((err) => {
      this.#log.warn(`pool ${this.name}: cast failed: ${(err as Error)?.message ?? err}`);
      try {
        this.#hooks.onCastError?.(err);
      } catch (hookErr) {
        this.#log.error(`pool ${this.name}: onCastError threw: ${(hookErr as Error).message}`);
      }
    });
  }

  /**
   * Starts a long-lived task that holds a slot and keeps its runner alive
   * until it ends or `stop()` is called. No timeout unless given.
   *
   * @param fn A self-contained function; watch `this.signal` to stop in time.
   * @param args Its arguments.
   * @param options Timeout and abort signal.
   * @returns Once the task is placed on a runner: its handle.
   *
   * @example
   * ```ts
   * import { LocalBackend, Pool } from "@flame/docker";
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
   * const child = await pool.placeChild(function () {
   *   return new Promise((resolve) => this.signal.addEventListener("abort", () => resolve("stopped")));
   * });
   * await child.stop();
   * ```
   */
  async placeChild<A extends unknown[], R>(
    fn: ShippableFunction<A, R>,
    args?: A,
    options?: CallOptions,
  ): Promise<ChildHandle<Awaited<R>>> {
    const target: CallTarget = { kind: "fn", source: functionSource(fn) };
    const controller = new AbortController();
    const signal = options?.signal
      ? AbortSignal.any([options.signal, controller.signal])
      : controller.signal;
    const placed = withResolvers<string>();
    const done = this.#run(target, args ?? [], {
      timeout: options?.timeout ?? Infinity,
      signal,
    }, placed.resolve) as Promise<Awaited<R>>;
    done.catch(() => {});
    const runnerId = await Promise.race([placed.promise, done.then(() => "")]);
    let finished = false;
    const settled = done.then(() => {}, () => {}).finally(() => finished = true);
    return {
      runnerId,
      done,
      stop: async () => {
        if (!finished) controller.abort(new DOMException("Child stopped", "AbortError"));
        await settled;
      },
    };
  }

  /**
   * A typed proxy whose methods run the module's exports on a runner. The
   * runner imports the same specifier (same-image model: a `file:` specifier
   * must exist at the same path on the runner).
   *
   * @param specifier The module, e.g. `import.meta.resolve("./jobs.ts")`.
   * @param options Timeout and abort signal for every call through this proxy.
   * @returns The proxy.
   *
   * @example A module the runner can import
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool } from "@flame/docker";
   *
   * interface MathModule {
   *   double(n: number): number;
   * }
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
   * const math = pool.module<MathModule>(
   *   "data:text/javascript,export function double(n) { return n * 2; }",
   * );
   * assert.equal(await math.double(21), 42);
   * ```
   *
   * @example Typed by the module itself (`./jobs.ts` must exist)
   * ```ts ignore
   * const jobs = pool.module<typeof import("./jobs.ts")>(import.meta.resolve("./jobs.ts"));
   * const png = await jobs.thumbnail(bytes, { width: 128 });
   * for await (const frame of jobs.render(video)) console.log(frame);
   * ```
   */
  module<M>(specifier: string | URL, options?: CallOptions): RemoteModule<M> {
    const spec = specifier instanceof URL ? specifier.href : specifier;
    if (typeof spec !== "string" || spec === "") {
      throw new TypeError("Cannot create a module proxy: the specifier must be a non-empty string");
    }
    return new Proxy({}, {
      get: (_, name) => {
        if (typeof name !== "string" || name === "then") return undefined;
        return (...args: unknown[]) =>
          this.#lazyCall({ kind: "module", specifier: spec, name }, args, options ?? {});
      },
    }) as RemoteModule<M>;
  }

  #lazyCall(target: CallTarget, args: unknown[], options: CallOptions) {
    let started: Promise<unknown> | undefined;
    const start = () => started ??= this.#run(target, args, options);
    return {
      then(onOk?: (v: unknown) => unknown, onErr?: (e: unknown) => unknown) {
        return start().then(onOk, onErr);
      },
      catch(onErr?: (e: unknown) => unknown) {
        return start().catch(onErr);
      },
      finally(onFinally?: () => void) {
        return start().finally(onFinally);
      },
      [Symbol.toStringTag]: "RemoteCall",
      [Symbol.asyncIterator]() {
        let inner: AsyncIterator<unknown> | undefined;
        const get = async () => {
          if (inner) return inner;
          const value = await start();
          if (
            typeof value !== "object" || value === null ||
            !(Symbol.asyncIterator in value)
          ) {
            throw new TypeError(
              `Export "${
                (target as { name: string }).name
              }" returned a value, not an async iterable`,
            );
          }
          return inner = (value as AsyncIterable<unknown>)[Symbol.asyncIterator]();
        };
        return {
          next: async () => (await get()).next(),
          return: async () => {
            if (started === undefined) return { value: undefined, done: true as const };
            const it = await get().catch(() => undefined);
            return (await it?.return?.()) ?? { value: undefined, done: true as const };
          },
        };
      },
    };
  }

  /**
   * A snapshot of runners, slots, queue and counters. Holds no secret.
   *
   * @returns The snapshot.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool } from "@flame/docker";
   *
   * await using pool = new Pool({ backend: new LocalBackend(), max: 2 });
   * assert.equal(pool.stats().runners, 0);
   * await pool.call(() => 1);
   * const { runners, boots, callsOk, busySlots } = pool.stats();
   * assert.deepEqual({ runners, boots, callsOk, busySlots }, {
   *   runners: 1,
   *   boots: 1,
   *   callsOk: 1,
   *   busySlots: 0,
   * });
   * ```
   */
  stats(): PoolStats {
    return {
      runners: this.#runners.length,
      booting: this.#booting,
      busySlots: this.#busy,
      queued: this.#queued,
      ...this.#stats,
    };
  }

  /**
   * Stops taking calls, lets in-flight calls finish for up to
   * `shutdownTimeout`, then stops every runner and releases the port.
   * Queued callers get `PoolClosedError`. Idempotent.
   *
   * @returns Once every runner is stopped and the backend closed.
   *
   * @example In-flight calls finish; later calls are refused
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool, PoolClosedError } from "@flame/docker";
   *
   * const pool = new Pool({ backend: new LocalBackend(), max: 1 });
   * await pool.call(() => "warm"); // a runner is up: the next call starts at once
   * const inFlight = pool.call(async () => {
   *   await new Promise((resolve) => setTimeout(resolve, 20));
   *   return "finished";
   * });
   * await pool.close();
   * assert.equal(await inFlight, "finished");
   * assert.equal(pool.stats().runners, 0);
   * await assert.rejects(pool.call(() => 1), PoolClosedError);
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * `await using pool = new Pool(...)` closes it at the end of the scope.
   *
   * @returns Once the pool is closed, as {@linkcode Pool.close}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool } from "@flame/docker";
   *
   * let runnersAfter = -1;
   * {
   *   await using pool = new Pool({
   *     backend: new LocalBackend(),
   *     max: 1,
   *     onShrink: () => runnersAfter = 0,
   *   });
   *   await pool.call(() => 1);
   * } // closed here, its runner stopped
   * assert.equal(runnersAfter, 0);
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- placement ---------------------------------------------------------

  // Not `async`, no closures: a call placed at once is one PoolCall (its
  // promise, deadline entry, abort listener and link sink) and no timer (its
  // timeout joins the pool's one DeadlineTimer).
  #run(
    target: CallTarget,
    args: unknown[],
    options: CallOptions,
    onPlaced?: (runnerId: string) => void,
  ): Promise<unknown> {
    if (this.#closing) return Promise.reject(new PoolClosedError(this.name));
    if (!Array.isArray(args)) {
      return Promise.reject(new TypeError("Cannot call: args must be an array"));
    }
    const timeout = options.timeout ?? this.#timeout;
    if (typeof timeout !== "number" || !(timeout > 0)) {
      return Promise.reject(
        new RangeError(`Invalid call option "timeout": ${timeout} must be a positive number`),
      );
    }
    const signal = options.signal;
    let body: readonly Uint8Array[];
    try {
      signal?.throwIfAborted();
      body = encodeCallBody(target, args);
    } catch (err) {
      return Promise.reject(err);
    }
    const call = new PoolCall(this.#callHost, target, body, timeout, signal, onPlaced);
    signal?.addEventListener("abort", call, { once: true });
    if (call.deadline !== Infinity) this.#deadlines.add(call);
    const placed = this.#tryPlace();
    if (placed !== undefined) {
      call.send(placed, false);
      return call.promise;
    }
    call.queue();
    return call.promise;
  }

  #callEnded(call: PoolCall, ok: boolean, value: unknown): void {
    this.#deadlines.delete(call);
    if (ok) this.#stats.callsOk++;
    else this.#stats.callsFailed++;
    if (this.#onEvent !== undefined) {
      const target = call.target;
      this.#event("flame.call.end", {
        "flame.ok": ok,
        "flame.duration_ms": Date.now() - call.startedAt,
        "flame.target": target.kind === "fn" ? "function" : `${target.specifier}#${target.name}`,
        ...(ok ? {} : { "error.type": (value as Error)?.name ?? typeof value }),
      }, call.runner?.id);
    }
  }

  #tryPlace(): Runner | undefined {
    if (this.#queued > 0) return undefined;
    const runner = this.#pick();
    if (runner !== undefined) this.#take(runner);
    return runner;
  }

  #pick(): Runner | undefined {
    let best: Runner | undefined;
    const runners = this.#runners;
    for (let i = 0; i < runners.length; i++) {
      const r = runners[i]!;
      if (r.stopping || r.link.isClosed) continue;
      if (this.#singleUse ? r.served > 0 : r.busy >= this.#maxConcurrency) continue;
      if (best === undefined || r.busy < best.busy) best = r;
    }
    return best;
  }

  #take(runner: Runner): void {
    runner.busy++;
    runner.served++;
    this.#busy++;
    // The idle timer stays armed: when it fires on a busy runner it does nothing,
    // and the release that makes the runner idle again arms it if needed.
  }

  #release(runner: Runner): void {
    runner.busy--;
    this.#busy--;
    if (this.#busy === 0) this.#drained?.resolve();
    if (runner.busy === 0 && !runner.stopping) {
      if (this.#singleUse) this.#stopRunner(runner, "single-use");
      else this.#scheduleIdle(runner);
    }
    this.#dispatch();
  }

  #enqueue(waiter: Waiter): void {
    this.#queue.push(waiter);
    this.#queued++;
  }

  #shiftWaiter(): Waiter | undefined {
    while (this.#queueHead < this.#queue.length) {
      const w = this.#queue[this.#queueHead++]!;
      if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#queueHead);
        this.#queueHead = 0;
      }
      if (!w.settled) return w;
    }
    return undefined;
  }

  #popWaiter(): Waiter | undefined {
    while (this.#queue.length > this.#queueHead) {
      const w = this.#queue.pop()!;
      if (!w.settled) return w;
    }
    return undefined;
  }

  #dispatch(): void {
    while (this.#queued > 0) {
      const runner = this.#pick();
      if (runner === undefined) break;
      const w = this.#shiftWaiter()!;
      w.settled = true;
      this.#queued--;
      this.#take(runner);
      w.resolve(runner);
    }
    if (this.#queued > 0) this.#grow();
  }

  #grow(): void {
    if (this.#closing) return;
    let pending = this.#booting * this.#perRunner;
    while (this.#queued > pending && this.#runners.length + this.#booting < this.#max) {
      this.#boot();
      pending += this.#perRunner;
    }
  }

  #bootToMin(): void {
    if (this.#closing) return;
    while (this.#runners.length + this.#booting < this.#min) this.#boot();
  }

  // ---- runner lifecycle -----------------------------------------------------

  #ensureListener(): Promise<{ listener: ParentListener; dialHost: string }> {
    this.#listener ??= (async () => {
      const address = await this.#backend.prepare();
      const listener = await ParentListener.open(address.listenHost, 0, { logger: this.#log });
      this.#log.info(
        `pool ${this.name}: listening for runners on ${listener.addr.hostname}:${listener.addr.port} (${this.#backend.name} backend)`,
      );
      this.#reapLeftovers();
      return { listener, dialHost: address.dialHost };
    })();
    // A failed prepare (engine down, network missing) is retried by the next boot.
    this.#listener.catch(() => this.#listener = undefined);
    return this.#listener;
  }

  /** Removes what earlier parents of this pool's name left behind (in the background). */
  #reapLeftovers(): void {
    this.#reaping = this.#backend.reap?.({ pool: this.name }).then((count) => {
      if (count === 0) return;
      this.#log.info(`pool ${this.name}: removed ${count} runner(s) left by dead parents`);
      this.#event("flame.docker.reap", { "flame.count": count });
    }, (err) => {
      this.#log.warn(`pool ${this.name}: cannot reap leftovers: ${(err as Error).message}`);
    });
  }

  #boot(): void {
    this.#booting++;
    this.#stats.boots++;
    const id = `${this.name}-${crypto.randomUUID().slice(0, 8)}`;
    const started = Date.now();
    this.#emit("onGrowStart", { pool: this.name, runnerId: id });
    this.#event("flame.runner.boot.start", {}, id);
    this.#log.info(`pool ${this.name}: booting runner ${id}`);
    const boot = this.#bootRunner(id).then(
      (runner) => {
        this.#booting--;
        this.#consecutiveBootFailures = 0;
        this.#emit("onGrowEnd", {
          pool: this.name,
          runnerId: id,
          ok: true,
          durationMs: Date.now() - started,
        });
        this.#event("flame.runner.boot.end", {
          "flame.ok": true,
          "flame.duration_ms": Date.now() - started,
        }, id);
        this.#log.info(`pool ${this.name}: runner ${id} up in ${Date.now() - started} ms`);
        if (this.#closing) {
          this.#runners.push(runner);
          this.#stopRunner(runner, "closed");
          return;
        }
        this.#runners.push(runner);
        runner.link.closed.then((reason) => this.#runnerGone(runner, reason));
        this.#dispatch();
        if (runner.busy === 0) this.#scheduleIdle(runner);
      },
      (err) => {
        this.#booting--;
        this.#stats.bootFailures++;
        this.#consecutiveBootFailures++;
        const error = err instanceof BootError
          ? err
          : new BootError(`Cannot boot runner "${id}": ${(err as Error)?.message ?? err}`, {
            cause: err,
          });
        this.#emit("onGrowEnd", {
          pool: this.name,
          runnerId: id,
          ok: false,
          durationMs: Date.now() - started,
          error,
        });
        this.#event("flame.runner.boot.end", {
          "flame.ok": false,
          "flame.duration_ms": Date.now() - started,
          "error.message": error.message,
        }, id);
        this.#log.error(`pool ${this.name}: ${error.message}`);
        this.#failWaiters(error);
        this.#scheduleReplace();
      },
    );
    this.#boots.add(boot);
    boot.finally(() => this.#boots.delete(boot));
  }

  async #bootRunner(id: string): Promise<Runner> {
    const { listener, dialHost } = await this.#ensureListener();
    const secret = generateSecret();
    const expectation = await listener.expect(id, secret);
    const controller = new AbortController();
    const idleBackstop = Math.max(this.#idle, this.#minIdle);
    const parentEnv = encodeParentEnv({
      v: PROTOCOL_VERSION,
      host: dialHost,
      port: listener.addr.port,
      id,
      secret,
      connectTimeout: this.#bootTimeout,
      heartbeatInterval: this.#heartbeatInterval,
      heartbeatTimeout: this.#heartbeatTimeout,
      // The pool shrinks idle runners itself; the runner's own idle exit is a
      // backstop that never races the pool's decision.
      idleTimeout: Number.isFinite(idleBackstop) ? idleBackstop + this.#heartbeatTimeout * 2 : null,
    });
    let handle: RunnerHandle | undefined;
    let timer: Timer | undefined;
    try {
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(
            new BootError(
              `Cannot boot runner "${id}": it did not connect within ${this.#bootTimeout} ms`,
            ),
          );
        }, this.#bootTimeout);
      });
      handle = await Promise.race([
        this.#backend.boot({
          id,
          parentEnv,
          pool: this.name,
          signal: controller.signal,
          onEvent: (name, attributes) => this.#event(name, attributes, id),
        }),
        timedOut,
      ]);
      const started = handle;
      const conn = await Promise.race([
        expectation.connection,
        timedOut,
        started.exited.then((how) => {
          throw new BootError(`Cannot boot runner "${id}": it exited before connecting (${how})`);
        }),
      ]);
      this.#event("flame.runner.boot.phase", { "flame.phase": "authenticated" }, id);
      const link = new RunnerLink(id, conn, {
        interval: this.#heartbeatInterval,
        timeout: this.#heartbeatTimeout,
      }, this.#log);
      started.exited.then((how) => link.close(`runner exited: ${how}`));
      return {
        id,
        link,
        handle: started,
        busy: 0,
        served: 0,
        idleSince: Date.now(),
        idleTimer: undefined,
        idleTimerAt: Infinity,
        stopping: false,
      };
    } catch (err) {
      expectation.cancel();
      controller.abort();
      if (handle !== undefined) this.#trackStop(this.#backend.stop(handle));
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  #failWaiters(error: BootError): void {
    // Waiters that other pending boots can serve keep waiting; with runners
    // up, the rest wait for a slot; otherwise they get the boot's error.
    if (this.#runners.length > 0) return;
    let excess = this.#queued - this.#booting * this.#perRunner;
    while (excess-- > 0) {
      const w = this.#popWaiter();
      if (w === undefined) break;
      w.settled = true;
      this.#queued--;
      w.reject(error);
    }
  }

  #scheduleReplace(): void {
    if (this.#closing || this.#replaceTimer !== undefined) return;
    if (this.#runners.length + this.#booting >= this.#min) return;
    // Back off after failures so a broken image does not spin.
    const delay = Math.min(30_000, 250 * 2 ** Math.min(this.#consecutiveBootFailures, 7));
    this.#replaceTimer = setTimeout(() => {
      this.#replaceTimer = undefined;
      this.#bootToMin();
    }, this.#consecutiveBootFailures === 0 ? 0 : delay);
  }

  #scheduleIdle(runner: Runner): void {
    runner.idleSince = Date.now();
    const limit = this.#active() > this.#min ? this.#idle : this.#minIdle;
    if (!Number.isFinite(limit)) return;
    // An armed timer that fires no later than needed is kept: #idleCheck measures
    // the idle time and re-arms for the rest. No timer churn per call.
    const due = runner.idleSince + limit;
    if (runner.idleTimer !== undefined && runner.idleTimerAt <= due) return;
    this.#armIdle(runner, limit);
  }

  #armIdle(runner: Runner, delay: number): void {
    clearTimeout(runner.idleTimer);
    runner.idleTimerAt = Date.now() + delay;
    // Capped at what a timer holds; #idleCheck re-arms for the rest.
    runner.idleTimer = setTimeout(() => this.#idleCheck(runner), Math.min(delay, 2 ** 31 - 1));
  }

  #idleCheck(runner: Runner): void {
    runner.idleTimer = undefined;
    runner.idleTimerAt = Infinity;
    if (runner.busy > 0 || runner.stopping || this.#closing) return;
    const limit = this.#active() > this.#min ? this.#idle : this.#minIdle;
    if (!Number.isFinite(limit)) return;
    const idleFor = Date.now() - runner.idleSince;
    if (idleFor >= limit) {
      this.#stopRunner(runner, "idle");
    } else {
      this.#armIdle(runner, limit - idleFor);
    }
  }

  #active(): number {
    let n = 0;
    const runners = this.#runners;
    for (let i = 0; i < runners.length; i++) if (!runners[i]!.stopping) n++;
    return n;
  }

  #stopRunner(runner: Runner, reason: ShrinkEvent["reason"]): void {
    if (runner.stopping) return;
    runner.stopping = true;
    clearTimeout(runner.idleTimer);
    this.#emit("onShrink", { pool: this.name, runnerId: runner.id, reason });
    this.#event("flame.runner.shrink", { "flame.reason": reason }, runner.id);
    this.#log.info(`pool ${this.name}: stopping runner ${runner.id} (${reason})`);
    const stop = (async () => {
      if (!runner.link.isClosed) {
        runner.link.shutdown(reason === "closed" ? 0 : this.#shutdownTimeout);
        let timer: Timer | undefined;
        await Promise.race([
          runner.link.closed,
          new Promise((r) => timer = setTimeout(r, Math.min(this.#shutdownTimeout, 5000))),
        ]);
        clearTimeout(timer);
        runner.link.close(`stopped (${reason})`);
      }
      await this.#backend.stop(runner.handle);
    })().catch((err) => {
      this.#log.error(`pool ${this.name}: cannot stop runner ${runner.id}: ${err.message}`);
    });
    this.#trackStop(stop);
  }

  #trackStop(stop: Promise<void>): void {
    const tracked = stop.catch((err) => {
      this.#log.error(`pool ${this.name}: stopping a runner failed: ${err?.message ?? err}`);
    });
    this.#stops.add(tracked);
    tracked.finally(() => this.#stops.delete(tracked));
  }

  #runnerGone(runner: Runner, reason: string): void {
    const at = this.#runners.indexOf(runner);
    if (at < 0) return;
    this.#runners.splice(at, 1);
    clearTimeout(runner.idleTimer);
    if (!runner.stopping) {
      runner.stopping = true;
      this.#log.warn(`pool ${this.name}: runner ${runner.id} went away: ${reason}`);
      this.#emit("onShrink", { pool: this.name, runnerId: runner.id, reason: "exited" });
      this.#event("flame.runner.shrink", { "flame.reason": "exited" }, runner.id);
      this.#trackStop(this.#backend.stop(runner.handle));
    }
    if (this.#closing) return;
    this.#scheduleReplace();
    this.#dispatch();
  }

  #event(name: FlameEventName, attributes: FlameAttributes, runnerId?: string): void {
    if (this.#onEvent === undefined) return;
    try {
      this.#onEvent({
        name,
        time: Date.now(),
        attributes: {
          "flame.pool": this.name,
          ...(runnerId === undefined ? {} : { "flame.runner.id": runnerId }),
          ...attributes,
        },
      });
    } catch (err) {
      this.#log.error(`pool ${this.name}: onEvent threw: ${(err as Error).message}`);
    }
  }

  #emit<K extends "onGrowStart" | "onGrowEnd" | "onShrink">(
    hook: K,
    event: Parameters<NonNullable<PoolOptions[K]>>[0],
  ): void {
    try {
      (this.#hooks[hook] as ((e: typeof event) => void) | undefined)?.(event);
    } catch (err) {
      this.#log.error(`pool ${this.name}: ${hook} threw: ${(err as Error).message}`);
    }
  }

  async #close(): Promise<void> {
    clearTimeout(this.#replaceTimer);
    const closed = new PoolClosedError(this.name);
    for (let w = this.#shiftWaiter(); w !== undefined; w = this.#shiftWaiter()) {
      w.settled = true;
      this.#queued--;
      w.reject(closed);
    }
    if (this.#busy > 0) {
      this.#drained = withResolvers<void>();
      let timer: Timer | undefined;
      await Promise.race([
        this.#drained.promise,
        new Promise((r) => timer = setTimeout(r, this.#shutdownTimeout)),
      ]);
      clearTimeout(timer);
    }
    while (this.#boots.size > 0) await Promise.allSettled([...this.#boots]);
    for (const runner of this.#runners.slice()) this.#stopRunner(runner, "closed");
    while (this.#stops.size > 0) await Promise.allSettled([...this.#stops]);
    this.#runners.length = 0;
    this.#deadlines.dispose();
    if (this.#listener) {
      const ready = await this.#listener.catch(() => undefined);
      await ready?.listener.close();
    }
    await this.#reaping;
    await this.#backend.close?.();
    backendsInUse.delete(this.#backend);
    this.#log.info(`pool ${this.name}: closed`);
  }
}

/** What a {@linkcode PoolCall} needs of its pool. */
interface CallHost {
  /** The call no longer occupies `runner`. */
  release(runner: Runner): void;
  /** Queues the call's waiter and grows the pool if it may. */
  enqueue(waiter: Waiter): void;
  /** A queued waiter gave up. */
  unqueue(): void;
  /** The call settled (before its promise's callbacks run). */
  ended(call: PoolCall, ok: boolean, value: unknown): void;
}

/**
 * One call, from `pool.call()` to its outcome: the promise the caller holds,
 * the deadline entry, the abort listener and the link's sink, all one object,
 * so a call costs no closures.
 */
class PoolCall implements CallSink, EventListenerObject {
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

  constructor(
    host: CallHost,
    target: CallTarget,
    body: readonly Uint8Array[],
    timeout: number,
    signal: AbortSignal | undefined,
    onPlaced: ((runnerId: string) => void) | undefined,
  ) {
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
    const remaining = this.deadline === Infinity
      ? 0
      : waited
      ? Math.max(1, this.deadline - Date.now())
      : this.#timeout;
    this.#callId = runner.link.call(this.#body, remaining, this);
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

  /** From the link: the runner is free of this call. */
  done(): void {
    this.#host.release(this.runner!);
  }

  /** From the deadline timer. */
  expire(): void {
    this.#cancel(new TimeoutError(`Call timed out after ${this.#timeout} ms`));
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    this.#cancel(this.#signal!.reason);
  }

  #cancel(reason: unknown): void {
    if (this.#settled) return;
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

  #finish(ok: boolean, value: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#signal?.removeEventListener("abort", this);
    if (ok) this.#resolve(value);
    else this.#reject(value);
    this.#host.ended(this, ok, value);
  }
}

function withClosureHint(err: unknown): unknown {
  if (err instanceof RemoteError && err.remoteName === "ReferenceError") {
    err.message +=
      " (a function shipped by source cannot use variables from outer scopes; pass them as arguments)";
  }
  return err;
}
