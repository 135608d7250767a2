/**
 * `Pool`: FLAME's pool, the class that ties the parent side together. It
 * places calls on the least-loaded runner with a free slot
 * ({@linkcode Placement}), queues callers FIFO when none has one
 * ({@linkcode WaiterQueue}), and leaves booting, growing, replacing and
 * shrinking runners to {@linkcode RunnerLifecycle}. The file is long for its
 * public methods' documentation and runnable examples; its own logic is the
 * placement and shutdown at the end.
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import { AbortError, type BootError, PayloadTooLargeError, PoolClosedError } from "../errors.ts";
import {
  byteLength,
  CALL_HEADER_SIZE,
  type CallTarget,
  CODE_SCHEME,
  encodeCallBody,
  LINK_MAX_PAYLOAD,
} from "../protocol/messages.ts";
import { DeadlineTimer } from "../util/deadline_timer.ts";
import { type Resolvers, withResolvers } from "../util/promise.ts";
import type { Timer } from "../util/timer.ts";
import { type CallHost, PoolCall, signalError } from "./call.ts";
import { PoolEmitter } from "./emitter.ts";
import { RunnerLifecycle } from "./lifecycle.ts";
import {
  type CallOptions,
  type PoolConfig,
  type PoolOptions,
  resolvePoolOptions,
  resolveResize,
} from "./options.ts";
import { resolveRetry, type RetryPlan } from "./scaling.ts";
import { type Artifact, callerFile, CodeBuilder } from "./code_sync.ts";
import { Placement, type Runner } from "./placement.ts";
import { WaiterQueue } from "./queue.ts";
import {
  type CallResult,
  functionSource,
  type RemoteModule,
  remoteModule,
  type ShippableFunction,
  type ShippableResult,
} from "./shipping.ts";

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
  /**
   * Calls that failed: remote error, timeout, abort, runner death, or refused
   * before anything was sent (an argument that cannot cross, a pool closed).
   */
  callsFailed: number;
}

/**
 * A long-lived task from {@linkcode Pool.placeChild}: it holds a slot on
 * `runnerId` (keeping that runner from idling out) until it returns, throws,
 * or is stopped.
 *
 * @example Stopping a task, and what `done` says then
 * ```ts
 * import assert from "node:assert/strict";
 * import { AbortError, LocalBackend, Pool } from "@flame/docker";
 *
 * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
 * const child = await pool.placeChild(function () {
 *   // Runs until stopped: `this.signal` aborts on stop(), timeout or shutdown.
 *   return new Promise((resolve) => this.signal.addEventListener("abort", resolve));
 * });
 * assert.match(child.runnerId, /^flame-/);
 * await child.stop();
 * await assert.rejects(child.done, AbortError);
 * assert.equal(pool.stats().busySlots, 0);
 * ```
 */
export interface ChildHandle<R> {
  /**
   * The runner it runs on (its slot is held until the task ends).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool } from "@flame/docker";
   *
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
   * const child = await pool.placeChild(() => "done");
   * assert.equal(typeof child.runnerId, "string");
   * ```
   */
  runnerId: string;
  /**
   * Settles with the task's outcome: its value, or what a call would reject
   * with (`RemoteError`, `TimeoutError`, `RunnerExitedError`, …); after
   * `stop()` it rejects with `AbortError`, even when the task then returns.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool } from "@flame/docker";
   *
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
   * const child = await pool.placeChild((n: number) => n * 2, [21]);
   * assert.equal(await child.done, 42);
   * ```
   */
  done: Promise<R>;
  /**
   * Cancels the task: its `this.signal` aborts on the runner and `done`
   * rejects with `AbortError`. Resolves once the slot is free; does nothing
   * more once the task has ended.
   *
   * @returns Once the task no longer holds its slot.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool } from "@flame/docker";
   *
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
   * const child = await pool.placeChild(function () {
   *   return new Promise((resolve) => this.signal.addEventListener("abort", resolve));
   * });
   * await child.stop();
   * await child.stop(); // already stopped: resolves at once
   * await child.done.catch(() => {});
   * ```
   */
  stop(): Promise<void>;
}

/** Shared defaults for a call without arguments or options (only ever read). */
const NO_ARGS: unknown[] = Object.freeze([]) as unknown as unknown[];
const NO_OPTIONS: CallOptions = Object.freeze({});

/** Backends serving an open pool: one backend instance per pool. */
const backendsInUse = new WeakSet<object>();

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
  readonly #config: PoolConfig;
  readonly #backend: Backend;
  readonly #emitter: PoolEmitter;
  readonly #onCastError: ((error: unknown) => void) | undefined;
  readonly #placement: Placement;
  readonly #queue = new WaiterQueue();
  readonly #lifecycle: RunnerLifecycle;
  #drained: Resolvers<void> | undefined;
  #closing: Promise<void> | undefined;
  #calls = { callsOk: 0, callsFailed: 0 };
  /** Calls started and not yet settled (while any is, the pool holds the event loop). */
  #pending = 0;
  #deadlines = new DeadlineTimer<PoolCall>((call) => call.expire());
  /** What a call needs of the pool (one object per pool: calls carry no closures). */
  #callHost: CallHost = {
    release: (runner) => this.#release(runner),
    enqueue: (waiter) => {
      this.#queue.push(waiter);
      this.#lifecycle.grow(this.#queue.queued);
    },
    unqueue: () => this.#queue.unqueue(),
    ended: (call, ok, value) => this.#callEnded(call, ok, value),
    retrying: (call, error, delayMs) => this.#callRetrying(call, error, delayMs),
    resend: (call) => this.#resend(call),
    codeShipped: (runner, artifact, ms) =>
      this.#emitter.emit("flame.code.ship", {
        "flame.hash": artifact.hash,
        "flame.bytes": artifact.bytes.length,
        "flame.duration_ms": ms,
      }, runner.id),
  };
  /** Code sync's builder (`code: "sync"`). */
  #code: CodeBuilder | undefined;
  /** The last artifact hash of each synced module. */
  #codeHashes = new Map<string, string>();
  /** Calls waiting between two attempts (failed at once when the pool closes). */
  #retrying = new Set<PoolCall>();

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
    const config = resolvePoolOptions(options);
    const backend = options.backend;
    if (backendsInUse.has(backend)) {
      throw new TypeError(
        'Invalid Pool option "backend": this backend instance already serves another pool; give each pool its own',
      );
    }
    backendsInUse.add(backend);
    this.name = config.name;
    this.#config = config;
    this.#backend = backend;
    this.#emitter = new PoolEmitter(config.name, options);
    this.#onCastError = options.onCastError;
    this.#placement = new Placement(config.singleUse, config.maxConcurrency);
    this.#lifecycle = new RunnerLifecycle(config, backend, this.#placement, this.#emitter, {
      isClosing: () => this.#closing !== undefined,
      dispatch: () => this.#dispatch(),
      bootFailed: (error) => this.#failWaiters(error),
      pendingCalls: () => this.#pending,
      queued: () => this.#queue.queued,
      // No call, runner or boot is left: the deadline timer (armed for a call
      // already ended) must not keep the process alive either.
      idle: () => this.#deadlines.dispose(),
    });
    if (config.code === "sync") {
      this.#code = new CodeBuilder(config.codeLimit, (a) => this.#codeBuilt(a));
    }
    this.#lifecycle.bootToMin();
  }

  /** A module was built (an event). */
  #codeBuilt(artifact: Artifact): void {
    this.#emitter.emit("flame.code.build", {
      "flame.specifier": artifact.specifier,
      "flame.hash": artifact.hash,
      "flame.bytes": artifact.bytes.length,
      "flame.duration_ms": artifact.buildMs,
    });
  }

  /** An artifact a call uses: a new one for its module retires the runners holding the old code. */
  #codeUsed(artifact: Artifact): void {
    const old = this.#codeHashes.get(artifact.specifier);
    this.#codeHashes.set(artifact.specifier, artifact.hash);
    if (old === undefined || old === artifact.hash) return;
    for (const runner of this.#placement.runners) {
      if (!runner.stopping && runner.link.holdsCode(old)) {
        this.#lifecycle.retire(runner, "code-changed");
      }
    }
  }

  /** A call under code sync: its artifacts are built (or taken from the cache) first. */
  async #runSynced(
    target: CallTarget,
    args: unknown[],
    options: CallOptions,
    base: string | undefined,
  ): Promise<unknown> {
    const code = this.#code!;
    let artifacts: Artifact[];
    try {
      if (target.kind === "module") {
        const artifact = await code.current(target.specifier);
        this.#codeUsed(artifact);
        artifacts = [artifact];
        target = { kind: "module", specifier: `${CODE_SCHEME}${artifact.hash}`, name: target.name };
      } else {
        const rewritten = await code.rewriteImports(target.source, base);
        artifacts = rewritten.artifacts;
        for (const a of artifacts) this.#codeUsed(a);
        target = { kind: "fn", source: rewritten.source };
      }
    } catch (err) {
      return await this.#refuse(target, err);
    }
    return await this.#run(target, args, options, undefined, artifacts);
  }

  /**
   * Runs `fn(...args)` on a runner and resolves with its result. An async
   * generator's values come back as an `AsyncIterable`, with back-pressure;
   * the call of an async generator function is async iterable itself.
   *
   * A call aborted by its `signal` rejects with {@linkcode TimeoutError} when
   * the signal timed out (`AbortSignal.timeout()`), else with
   * {@linkcode AbortError}; the signal's reason is the `cause`.
   *
   * @param fn A self-contained function (shipped as source); `this` is the {@linkcode CallContext}.
   * @param args Its arguments (structured-clonable).
   * @param options Timeout and abort signal.
   * @returns The result.
   * @throws {TypeError} When `fn` cannot be shipped.
   * @throws {DataCloneError} When an argument cannot cross the wire.
   * @throws {PayloadTooLargeError} When the arguments encode to more than a frame carries (1 GiB).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool } from "@flame/docker";
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
   * const out = await pool.call((s: string) => s.toUpperCase(), ["hi"], { timeout: 5000 });
   * assert.equal(out, "HI");
   * ```
   *
   * @example Streaming an async generator's values
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool } from "@flame/docker";
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
   * const seen: number[] = [];
   * for await (const n of pool.call(async function* (to: number) {
   *   for (let i = 1; i <= to; i++) yield i;
   * }, [3])) seen.push(n);
   * assert.deepEqual(seen, [1, 2, 3]);
   * ```
   *
   * @example Cancelling: the function sees `this.signal` abort, the caller a typed error
   * ```ts
   * import assert from "node:assert/strict";
   * import { type CallContext, LocalBackend, Pool, TimeoutError } from "@flame/docker";
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
   * const slow = pool.call(
   *   function (this: CallContext, ms: number) {
   *     return new Promise((resolve, reject) => {
   *       const timer = setTimeout(() => resolve("done"), ms);
   *       this.signal.addEventListener("abort", () => {
   *         clearTimeout(timer); // stop the work: nobody waits for it any more
   *         reject(this.signal.reason);
   *       });
   *     });
   *   },
   *   [10_000],
   *   { signal: AbortSignal.timeout(50) },
   * );
   * const err = await slow.catch((e) => e);
   * assert.ok(err instanceof TimeoutError);
   * assert.equal((err.cause as DOMException).name, "TimeoutError");
   * ```
   */
  call<A extends unknown[], R>(
    fn: ShippableFunction<A, R> & ShippableResult<R>,
    args?: A,
    options?: CallOptions,
  ): CallResult<R> {
    let target: CallTarget;
    try {
      target = { kind: "fn", source: functionSource(fn) };
    } catch (err) {
      return this.#refuse(undefined, err) as CallResult<R>;
    }
    const promise = this.#code !== undefined && target.source.includes("import(")
      ? this.#runSynced(target, args ?? NO_ARGS, options ?? NO_OPTIONS, callerFile())
      : this.#run(target, args ?? NO_ARGS, options ?? NO_OPTIONS);
    if (
      (fn as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === "AsyncGeneratorFunction"
    ) {
      (promise as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] = iterateResult;
    }
    return promise as CallResult<R>;
  }

  /**
   * Like {@linkcode Pool.call}, without waiting: failures go to `onCastError`
   * and the logger, or, when the pool has neither, to stderr (as an unhandled
   * rejection would be reported, without ending the process). Each failure
   * counts in `stats().callsFailed`.
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
    fn: ShippableFunction<A, R> & ShippableResult<R>,
    args?: A,
    options?: CallOptions,
  ): void {
    (this.call(fn, args, options) as Promise<unknown>).catch((err) => this.#castFailed(err));
  }

  #castFailed(err: unknown): void {
    const log = this.#emitter.log;
    log.warn(`pool ${this.name}: cast failed: ${(err as Error)?.message ?? err}`);
    // Nobody listening: say it where an unhandled rejection would be said.
    const unheard = !this.#emitter.hasLogger;
    if (this.#onCastError === undefined) {
      if (unheard) {
        console.error(`pool ${this.name}: cast failed (no onCastError, no logger):`, err);
      }
      return;
    }
    try {
      this.#onCastError(err);
    } catch (hookErr) {
      log.error(`pool ${this.name}: onCastError threw: ${(hookErr as Error)?.message ?? hookErr}`);
      if (unheard) {
        console.error(`pool ${this.name}: cast failed:`, err, "\nand onCastError threw:", hookErr);
      }
    }
  }

  /**
   * Starts a long-lived task that holds a slot and keeps its runner alive
   * until it ends or `stop()` is called. No timeout unless given.
   *
   * @param fn A self-contained function; watch `this.signal` to stop in time.
   * @param args Its arguments.
   * @param options Timeout and abort signal.
   * @returns Once the task is placed on a runner: its handle (see {@linkcode ChildHandle}).
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
    fn: ShippableFunction<A, R> & ShippableResult<R>,
    args?: A,
    options?: CallOptions,
  ): Promise<ChildHandle<Awaited<R>>> {
    let target: CallTarget;
    try {
      target = { kind: "fn", source: functionSource(fn) };
    } catch (err) {
      return this.#refuse(undefined, err);
    }
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
        if (!finished) controller.abort(new AbortError(`Child task on "${runnerId}" stopped`));
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
    return remoteModule<M>(
      specifier,
      options,
      (target, args, opts) =>
        this.#code === undefined
          ? this.#run(target, args, opts)
          : this.#runSynced(target, args, opts, undefined),
    );
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
      runners: this.#placement.runners.length,
      booting: this.#lifecycle.booting,
      busySlots: this.#placement.busy,
      queued: this.#queue.queued,
      ...this.#lifecycle.counts,
      ...this.#calls,
    };
  }

  /**
   * Changes `min`, `max` and `maxConcurrency` of a running pool, at once:
   * growing boots what the new `min` requires and serves waiting callers
   * from the new capacity (oldest first); shrinking `max` retires idle
   * runners first, and busy ones once their calls finish (they take no new
   * call meanwhile); a lower `min` lets the runners above it idle out. Checked
   * as the constructor checks them; the other options stay.
   *
   * @param sizes The new values (absent: unchanged).
   * @throws {TypeError} When a value is not a number.
   * @throws {RangeError} When a value is out of range, or `min` exceeds `max`.
   * @throws {PoolClosedError} When the pool is closed or closing.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool } from "@flame/docker";
   *
   * const shrinks: string[] = [];
   * await using pool = new Pool({
   *   backend: new LocalBackend(),
   *   max: 1,
   *   maxConcurrency: 1,
   *   onShrink: (e) => shrinks.push(e.reason),
   * });
   * pool.resize({ min: 2, max: 2 });
   * assert.equal(pool.stats().booting, 2);
   * await Promise.all([pool.call(() => 1), pool.call(() => 2)]);
   * assert.equal(pool.stats().runners, 2);
   * pool.resize({ min: 0, max: 1 }); // one idle runner is retired at once
   * assert.deepEqual(shrinks, ["resized"]);
   * ```
   */
  resize(sizes: { min?: number; max?: number; maxConcurrency?: number }): void {
    if (this.#closing !== undefined) throw new PoolClosedError(this.name);
    const next = resolveResize(this.#config, sizes);
    const config = this.#config as { -readonly [K in keyof PoolConfig]: PoolConfig[K] };
    config.min = next.min;
    config.max = next.max;
    config.maxConcurrency = next.maxConcurrency;
    this.#placement.setMaxConcurrency(next.maxConcurrency);
    this.#lifecycle.resized();
    this.#dispatch();
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
    code?: readonly Artifact[],
  ): Promise<unknown> {
    if (this.#closing) return this.#refuse(target, new PoolClosedError(this.name));
    if (!Array.isArray(args)) {
      return this.#refuse(target, new TypeError("Cannot call: args must be an array"));
    }
    const timeout = options.timeout ?? this.#config.timeout;
    if (typeof timeout !== "number" || !(timeout > 0)) {
      return this.#refuse(
        target,
        new RangeError(`Invalid call option "timeout": ${timeout} must be a positive number`),
      );
    }
    const signal = options.signal;
    if (signal?.aborted) return this.#refuse(target, signalError(signal.reason));
    let body: readonly Uint8Array[];
    try {
      body = encodeCallBody(target, args);
    } catch (err) {
      return this.#refuse(target, err);
    }
    // Checked here, not left to the runner's frame limit: an oversize frame would end the link.
    const size = CALL_HEADER_SIZE + byteLength(body);
    if (size > LINK_MAX_PAYLOAD) {
      return this.#refuse(
        target,
        new PayloadTooLargeError(
          `Cannot send call: its arguments encode to ${size} bytes, over the link's frame limit of ${LINK_MAX_PAYLOAD} bytes; send less per call (split the work, or pass a smaller value)`,
          { size, limit: LINK_MAX_PAYLOAD },
        ),
      );
    }
    let retry: RetryPlan | undefined = this.#config.retry;
    if (options.retry !== undefined) {
      try {
        retry = resolveRetry('call option "retry"', options.retry);
      } catch (err) {
        return this.#refuse(target, err);
      }
    }
    if (this.#pending++ === 0) this.#lifecycle.updateHold();
    const call = new PoolCall(
      this.#callHost,
      target,
      body,
      timeout,
      signal,
      onPlaced,
      retry,
      code !== undefined && code.length > 0 ? code : undefined,
    );
    signal?.addEventListener("abort", call, { once: true });
    if (call.deadline !== Infinity) this.#deadlines.add(call);
    const placed = this.#tryPlace();
    if (placed !== undefined) {
      call.send(placed, false);
      if (this.#config.scaling !== undefined) this.#lifecycle.scale();
      return call.promise;
    }
    call.queue();
    if (this.#config.scaling !== undefined) this.#lifecycle.scale();
    return call.promise;
  }

  #callRetrying(call: PoolCall, error: unknown, delayMs: number): void {
    this.#retrying.add(call);
    this.#emitter.emit("flame.call.retry", {
      "flame.attempt": call.attempt,
      "flame.backoff_ms": delayMs,
      "error.type": (error as Error)?.name ?? typeof error,
      "error.message": String((error as Error)?.message ?? error),
    }, call.runner?.id);
  }

  #resend(call: PoolCall): void {
    this.#retrying.delete(call);
    if (this.#closing !== undefined) {
      call.abandon(new PoolClosedError(this.name));
      return;
    }
    const placed = this.#tryPlace();
    if (placed !== undefined) call.send(placed, true);
    else call.queue();
  }

  #callEnded(call: PoolCall, ok: boolean, value: unknown): void {
    this.#deadlines.delete(call);
    if (this.#retrying.size > 0) this.#retrying.delete(call);
    if (--this.#pending === 0) this.#lifecycle.updateHold();
    if (ok) this.#calls.callsOk++;
    else this.#calls.callsFailed++;
    if (this.#emitter.wantsCallEvents) {
      this.#emitCallEnd(
        call.target,
        ok,
        value,
        Date.now() - call.startedAt,
        call.runner?.id,
        call.attempt,
      );
    }
  }

  /** A call refused before anything was sent: it fails like any other, counted and reported. */
  #refuse(target: CallTarget | undefined, err: unknown): Promise<never> {
    this.#calls.callsFailed++;
    if (this.#emitter.wantsCallEvents) this.#emitCallEnd(target, false, err, 0, undefined);
    return Promise.reject(err);
  }

  #emitCallEnd(
    target: CallTarget | undefined,
    ok: boolean,
    value: unknown,
    durationMs: number,
    runnerId: string | undefined,
    attempt = 1,
  ): void {
    this.#emitter.emit("flame.call.end", {
      "flame.ok": ok,
      "flame.duration_ms": durationMs,
      "flame.attempt": attempt,
      "flame.target": target === undefined || target.kind === "fn"
        ? "function"
        : `${target.specifier}#${target.name}`,
      ...(ok ? {} : { "error.type": (value as Error)?.name ?? typeof value }),
    }, runnerId);
  }

  #tryPlace(): Runner | undefined {
    if (this.#queue.queued > 0) return undefined;
    const runner = this.#placement.pick();
    if (runner !== undefined) this.#placement.take(runner);
    return runner;
  }

  #release(runner: Runner): void {
    const idle = this.#placement.release(runner);
    if (this.#placement.busy === 0) this.#drained?.resolve();
    if (runner.retiring !== undefined && runner.busy === 0) {
      this.#lifecycle.stopRunner(runner, runner.retiring);
    } else if (idle) {
      if (this.#config.singleUse) this.#lifecycle.stopRunner(runner, "single-use");
      else this.#lifecycle.scheduleIdle(runner);
    }
    this.#dispatch();
  }

  /** Hands free slots to waiting callers, oldest first; grows the pool for the rest. */
  #dispatch(): void {
    const queue = this.#queue;
    while (queue.queued > 0) {
      const runner = this.#placement.pick();
      if (runner === undefined) break;
      const w = queue.takeFirst()!;
      this.#placement.take(runner);
      w.resolve(runner);
    }
    if (queue.queued > 0) this.#lifecycle.grow(queue.queued);
    if (this.#config.scaling !== undefined) this.#lifecycle.scale();
  }

  #failWaiters(error: BootError): void {
    // Waiters that other pending boots can serve keep waiting; with runners
    // up, the rest wait for a slot; otherwise they get the boot's error.
    if (this.#placement.runners.length > 0) return;
    let excess = this.#queue.queued - this.#lifecycle.booting * this.#placement.perRunner;
    while (excess-- > 0) {
      const w = this.#queue.takeLast();
      if (w === undefined) break;
      w.reject(error);
    }
  }

  async #close(): Promise<void> {
    this.#lifecycle.cancelReplace();
    const closed = new PoolClosedError(this.name);
    for (let w = this.#queue.takeFirst(); w !== undefined; w = this.#queue.takeFirst()) {
      w.reject(closed);
    }
    for (const call of [...this.#retrying]) call.abandon(closed);
    this.#retrying.clear();
    if (this.#placement.busy > 0) {
      this.#drained = withResolvers<void>();
      let timer: Timer | undefined;
      await Promise.race([
        this.#drained.promise,
        new Promise((r) => timer = setTimeout(r, this.#config.shutdownTimeout)),
      ]);
      clearTimeout(timer);
    }
    await this.#lifecycle.stopAll();
    this.#deadlines.dispose();
    await this.#lifecycle.release();
    await this.#backend.close?.();
    backendsInUse.delete(this.#backend);
    this.#emitter.log.info(`pool ${this.name}: closed`);
  }
}

/**
 * `[Symbol.asyncIterator]` of an async generator function's call (its
 * promise, `this`): iterates the stream the call resolves to.
 */
function iterateResult(this: Promise<unknown>): AsyncIterator<unknown> {
  return new CallIterator(this);
}

/** Iterates the stream a call resolves to, once it has. */
class CallIterator implements AsyncIterator<unknown> {
  #call: Promise<unknown>;
  #inner: AsyncIterator<unknown> | undefined;

  constructor(call: Promise<unknown>) {
    this.#call = call;
  }

  async #get(): Promise<AsyncIterator<unknown>> {
    return this.#inner ??= (await this.#call as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  }

  async next(): Promise<IteratorResult<unknown>> {
    return await (await this.#get()).next();
  }

  async return(): Promise<IteratorResult<unknown>> {
    const it = await this.#get().catch(() => undefined);
    return (await it?.return?.()) ?? { value: undefined, done: true };
  }
}
