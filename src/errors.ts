/**
 * Errors a pool's callers are expected to catch.
 *
 * @module
 */

import type { WireError } from "./protocol/messages.ts";

/**
 * The function threw on the runner. Carries the remote `name`, `message` and
 * `stack`; `cause` is the remote cause (itself a `RemoteError` when it was an error).
 *
 * @example Telling a remote failure from a local one
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalBackend, Pool, RemoteError } from "@flame/docker";
 *
 * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
 * const err = await pool.call(() => {
 *   throw new RangeError("Too big");
 * }).catch((e) => e);
 * assert.ok(err instanceof RemoteError);
 * assert.equal(err.remoteName, "RangeError");
 * assert.equal(err.message, "Too big");
 * ```
 */
export class RemoteError extends Error {
  /**
   * The remote error's `name` (e.g. `"TypeError"`); the local `name` is
   * always `"RemoteError"`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { RemoteError } from "@flame/docker";
   *
   * const err = new RemoteError({ name: "TypeError", message: "Expected a number" });
   * assert.equal(err.remoteName, "TypeError");
   * assert.equal(err.name, "RemoteError");
   * ```
   */
  readonly remoteName: string;
  /**
   * The remote error's stack, as the runner printed it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool, RemoteError } from "@flame/docker";
   *
   * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
   * const err = await pool.call(() => {
   *   throw new Error("Boom");
   * }).catch((e) => e);
   * assert.ok(err instanceof RemoteError);
   * assert.match(err.remoteStack ?? "", /^Error: Boom/);
   * ```
   */
  readonly remoteStack: string | undefined;

  /**
   * Rebuilds a remote error; its remote cause becomes `cause`.
   *
   * @param wire The error as it crossed the wire: `name`, `message`, optional
   * `stack` and `cause`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { RemoteError } from "@flame/docker";
   *
   * const err = new RemoteError({
   *   name: "Error",
   *   message: "Cannot resize image",
   *   cause: { name: "RangeError", message: "Width too large" },
   * });
   * assert.ok(err.cause instanceof RemoteError);
   * assert.equal(err.cause.remoteName, "RangeError");
   * ```
   */
  constructor(wire: WireError) {
    const cause = remoteCause(wire.cause);
    super(wire.message, cause === undefined ? undefined : { cause });
    this.name = "RemoteError";
    this.remoteName = wire.name;
    this.remoteStack = wire.stack;
  }
}

/**
 * A remote error's cause, rebuilt. Outside the class on purpose: a class body
 * that names its own class makes bundlers rename it (`_RemoteError`), and
 * Node.js prints that name.
 */
function remoteCause(raw: unknown): unknown {
  // The wire is a peer's word: a cause of any shape must not throw here.
  if (typeof raw !== "object" || raw === null) return raw;
  return "message" in raw ? new RemoteError(raw as WireError) : (raw as { value?: unknown }).value;
}

/**
 * The runner went away (process or container died, link dropped, heartbeats
 * stopped) while the call was in flight.
 *
 * @example A runner crashing under a call
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalBackend, Pool, RunnerExitedError } from "@flame/docker";
 *
 * const backend = new LocalBackend();
 * await using pool = new Pool({ backend, max: 1 });
 * const child = await pool.placeChild(function () {
 *   return new Promise((resolve) => this.signal.addEventListener("abort", resolve));
 * });
 * backend.kill(child.runnerId);
 * await assert.rejects(child.done, RunnerExitedError);
 * ```
 */
export class RunnerExitedError extends Error {
  /**
   * The runner that went away.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool, RunnerExitedError } from "@flame/docker";
   *
   * const backend = new LocalBackend();
   * await using pool = new Pool({ backend, max: 1 });
   * const child = await pool.placeChild(function () {
   *   return new Promise((resolve) => this.signal.addEventListener("abort", resolve));
   * });
   * backend.kill(child.runnerId);
   * const err = await child.done.catch((e) => e);
   * assert.ok(err instanceof RunnerExitedError);
   * assert.equal(err.runnerId, child.runnerId);
   * ```
   */
  readonly runnerId: string;

  /**
   * Creates the error.
   *
   * @param runnerId The runner's id.
   * @param reason Why the link ended.
   * @param options Standard error options (`cause`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { RunnerExitedError } from "@flame/docker";
   *
   * const err = new RunnerExitedError("thumbs-1", "heartbeat timeout");
   * assert.equal(err.message, 'Runner "thumbs-1" exited: heartbeat timeout');
   * assert.equal(err.runnerId, "thumbs-1");
   * ```
   */
  constructor(runnerId: string, reason: string, options?: ErrorOptions) {
    super(`Runner "${runnerId}" exited: ${reason}`, options);
    this.name = "RunnerExitedError";
    this.runnerId = runnerId;
  }
}

/**
 * A runner could not be booted; `cause` says why (backend error, timeout, early exit).
 *
 * @example A backend that cannot start runners
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Backend, BootError, Pool } from "@flame/docker";
 *
 * const broken: Backend = {
 *   name: "broken",
 *   prepare: () => Promise.resolve({ listenHost: "127.0.0.1", dialHost: "127.0.0.1" }),
 *   boot: () => Promise.reject(new Error("No capacity left")),
 *   stop: () => Promise.resolve(),
 * };
 * await using pool = new Pool({ backend: broken, max: 1 });
 * const err = await pool.call(() => 1).catch((e) => e);
 * assert.ok(err instanceof BootError);
 * assert.equal((err.cause as Error).message, "No capacity left");
 * ```
 */
export class BootError extends Error {
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param options Standard error options (`cause`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BootError } from "@flame/docker";
   *
   * const cause = new Error("Image missing");
   * const err = new BootError('Cannot boot runner "r1": image missing', { cause });
   * assert.equal(err.name, "BootError");
   * assert.equal(err.cause, cause);
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BootError";
  }
}

/**
 * A call did not finish within its `timeout` (queueing included), or its
 * `signal` aborted with a timeout (`AbortSignal.timeout()`: the signal's
 * reason is the `cause`). The remote work is cancelled.
 *
 * @example A call that takes too long
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalBackend, Pool, TimeoutError } from "@flame/docker";
 *
 * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
 * const slow = pool.call(function () {
 *   return new Promise((resolve) => this.signal.addEventListener("abort", resolve));
 * }, [], { timeout: 50 });
 * await assert.rejects(slow, TimeoutError);
 * ```
 */
export class TimeoutError extends Error {
  /**
   * Creates the error.
   *
   * @param message What timed out.
   * @param options Standard error options (`cause`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TimeoutError } from "@flame/docker";
   *
   * const err = new TimeoutError("Call timed out after 50 ms");
   * assert.equal(err.name, "TimeoutError");
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TimeoutError";
  }
}

/**
 * A call's `signal` aborted (for any reason but a timeout, which is a
 * {@linkcode TimeoutError}), or a `placeChild()` task was stopped. `cause`
 * is the signal's reason. The remote work is cancelled.
 *
 * @example Cancelling a call
 * ```ts
 * import assert from "node:assert/strict";
 * import { AbortError, LocalBackend, Pool } from "@flame/docker";
 *
 * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
 * const controller = new AbortController();
 * const call = pool.call(function () {
 *   return new Promise((resolve) => this.signal.addEventListener("abort", resolve));
 * }, [], { signal: controller.signal });
 * controller.abort("user left");
 * const err = await call.catch((e) => e);
 * assert.ok(err instanceof AbortError);
 * assert.equal(err.cause, "user left");
 * ```
 */
export class AbortError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was aborted.
   * @param options Standard error options (`cause`: the signal's reason).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AbortError } from "@flame/docker";
   *
   * const err = new AbortError("Call aborted", { cause: "user left" });
   * assert.equal(err.name, "AbortError");
   * assert.equal(err.cause, "user left");
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AbortError";
  }
}

/** Options for {@linkcode PayloadTooLargeError}. */
export interface PayloadTooLargeErrorOptions extends ErrorOptions {
  /** Bytes the value encodes to, in its frame. */
  size: number;
  /** The most a frame carries, in bytes. */
  limit: number;
}

/**
 * A call's arguments, or its result (or one value of its stream), encode to
 * more bytes than one frame of the link carries (1 GiB). Nothing was sent and
 * the runner is fine: send less per call (split the work, or stream the
 * values from an async generator).
 *
 * @example An argument over the limit
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalBackend, PayloadTooLargeError, Pool } from "@flame/docker";
 *
 * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
 * const huge = new Uint8Array(2 ** 30); // untouched pages: this costs no memory
 * const err = await pool.call((b: Uint8Array) => b.length, [huge]).catch((e) => e);
 * assert.ok(err instanceof PayloadTooLargeError);
 * assert.ok(err.size > err.limit);
 * ```
 */
export class PayloadTooLargeError extends Error {
  /**
   * Bytes the value encodes to, in its frame.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PayloadTooLargeError } from "@flame/docker";
   *
   * const err = new PayloadTooLargeError("Too large", { size: 2048, limit: 1024 });
   * assert.equal(err.size, 2048);
   * ```
   */
  readonly size: number;
  /**
   * The most a frame carries, in bytes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PayloadTooLargeError } from "@flame/docker";
   *
   * const err = new PayloadTooLargeError("Too large", { size: 2048, limit: 1024 });
   * assert.equal(err.limit, 1024);
   * ```
   */
  readonly limit: number;

  /**
   * Creates the error.
   *
   * @param message What could not be sent, its size and the limit.
   * @param options The size, the limit and the standard `cause`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PayloadTooLargeError } from "@flame/docker";
   *
   * const err = new PayloadTooLargeError("Cannot send call: too large", { size: 2048, limit: 1024 });
   * assert.equal(err.name, "PayloadTooLargeError");
   * ```
   */
  constructor(message: string, options: PayloadTooLargeErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PayloadTooLargeError";
    this.size = options.size;
    this.limit = options.limit;
  }
}

/**
 * The pool is closed (or closing) and takes no more calls.
 *
 * @example Calling a closed pool
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalBackend, Pool, PoolClosedError } from "@flame/docker";
 *
 * const pool = new Pool({ backend: new LocalBackend(), max: 1 });
 * await pool.close();
 * await assert.rejects(pool.call(() => 1), PoolClosedError);
 * ```
 */
export class PoolClosedError extends Error {
  /**
   * Creates the error.
   *
   * @param pool The pool's name.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PoolClosedError } from "@flame/docker";
   *
   * assert.equal(new PoolClosedError("thumbs").message, 'Pool "thumbs" is closed');
   * ```
   */
  constructor(pool: string) {
    super(`Pool "${pool}" is closed`);
    this.name = "PoolClosedError";
  }
}

/**
 * Code sync could not build or ship a module (`code: "sync"`): the module
 * graph does not build (a syntax error, a missing import, a remote import
 * that is not in the cache and cannot be fetched), the artifact is over
 * `codeLimit`, or Deno is not found to build it. Raised before any boot;
 * `specifier` names the module and `detail` carries the bundler's own words.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CodeSyncError } from "@flame/docker";
 *
 * const err = new CodeSyncError("Cannot build ./jobs.ts for code sync", {
 *   specifier: "file:///app/jobs.ts",
 *   detail: "error: The module's source code could not be parsed",
 * });
 * assert.equal(err.name, "CodeSyncError");
 * ```
 */
export class CodeSyncError extends Error {
  /** The module that could not be built. */
  readonly specifier: string;
  /** What the bundler said, or why the artifact was refused. */
  readonly detail: string;

  /**
   * Creates the error.
   *
   * @param message What failed and how to fix it.
   * @param info The module and the bundler's output.
   */
  constructor(message: string, info: { specifier: string; detail: string }) {
    super(info.detail === "" ? message : `${message}\n${info.detail}`);
    this.name = "CodeSyncError";
    this.specifier = info.specifier;
    this.detail = info.detail;
  }
}
