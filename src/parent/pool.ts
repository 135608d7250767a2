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
import { type BootError, PoolClosedError } from "../errors.ts";
import { type CallTarget, encodeCallBody } from "../protocol/messages.ts";
import { DeadlineTimer } from "../util/deadline_timer.ts";
import { type Resolvers, withResolvers } from "../util/promise.ts";
import type { Timer } from "../util/timer.ts";
import { type CallHost, PoolCall } from "./call.ts";
import { PoolEmitter } from "./emitter.ts";
import { RunnerLifecycle } from "./lifecycle.ts";
import {
  type CallOptions,
  type PoolConfig,
  type PoolOptions,
  resolvePoolOptions,
} from "./options.ts";
import { Placement, type Runner } from "./placement.ts";
import { WaiterQueue } from "./queue.ts";
import {
  functionSource,
  type Remote,
  type RemoteModule,
  remoteModule,
  type ShippableFunction,
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
  /** Calls that failed (remote error, timeout, abort, runner death). */
  callsFailed: number;
}

/** A long-lived task from {@linkcode Pool.placeChild}. */
export interface ChildHandle<R> {
  /** The runner it runs on. */
  runnerId: string;
  /** Settles with the task's outcome. */
  done: Promise<R>;
  /** Cancels the task (its signal aborts); resolves once its slot is free. */
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
    });
    this.#lifecycle.bootToMin();
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
      const log = this.#emitter.log;
      log.warn(`pool ${this.name}: cast failed: ${(err as Error)?.message ?? err}`);
      try {
        this.#onCastError?.(err);
      } catch (hookErr) {
        log.error(`pool ${this.name}: onCastError threw: ${(hookErr as Error).message}`);
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
    return remoteModule<M>(
      specifier,
      options,
      (target, args, opts) => this.#run(target, args, opts),
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
    const timeout = options.timeout ?? this.#config.timeout;
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
    if (ok) this.#calls.callsOk++;
    else this.#calls.callsFailed++;
    if (this.#emitter.wantsCallEvents) {
      const target = call.target;
      this.#emitter.emit("flame.call.end", {
        "flame.ok": ok,
        "flame.duration_ms": Date.now() - call.startedAt,
        "flame.target": target.kind === "fn" ? "function" : `${target.specifier}#${target.name}`,
        ...(ok ? {} : { "error.type": (value as Error)?.name ?? typeof value }),
      }, call.runner?.id);
    }
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
    if (idle) {
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
