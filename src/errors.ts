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
 * @example
 * ```ts
 * import { RemoteError } from "./errors.ts";
 * const err = new RemoteError({ name: "RangeError", message: "too big" });
 * console.assert(err.remoteName === "RangeError" && err.message === "too big");
 * ```
 */
export class RemoteError extends Error {
  /** The remote error's `name` (e.g. `"TypeError"`). */
  readonly remoteName: string;
  /** The remote error's stack, as the runner printed it. */
  readonly remoteStack: string | undefined;

  /**
   * Rebuilds a remote error.
   *
   * @param wire The error as it crossed the wire.
   */
  constructor(wire: WireError) {
    // The wire is a peer's word: a cause of any shape must not throw here.
    const raw: unknown = wire.cause;
    const cause = typeof raw !== "object" || raw === null
      ? raw
      : "message" in raw
      ? new RemoteError(raw as WireError)
      : (raw as { value?: unknown }).value;
    super(wire.message, cause === undefined ? undefined : { cause });
    this.name = "RemoteError";
    this.remoteName = wire.name;
    this.remoteStack = wire.stack;
  }
}

/**
 * The runner went away (process or container died, link dropped, heartbeats
 * stopped) while the call was in flight.
 *
 * @example
 * ```ts
 * import { RunnerExitedError } from "./errors.ts";
 * const err = new RunnerExitedError("thumbs-1", "heartbeat timeout");
 * console.assert(err.runnerId === "thumbs-1");
 * ```
 */
export class RunnerExitedError extends Error {
  /** The runner that went away. */
  readonly runnerId: string;

  /**
   * Creates the error.
   *
   * @param runnerId The runner's id.
   * @param reason Why the link ended.
   * @param options Standard error options (`cause`).
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
 * @example
 * ```ts
 * import { BootError } from "./errors.ts";
 * const err = new BootError("Cannot boot runner \"r1\": image missing");
 * console.assert(err.name === "BootError");
 * ```
 */
export class BootError extends Error {
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BootError";
  }
}

/**
 * A call did not finish within its `timeout` (queueing included). The remote work is cancelled.
 *
 * @example
 * ```ts
 * import { TimeoutError } from "./errors.ts";
 * console.assert(new TimeoutError("late").name === "TimeoutError");
 * ```
 */
export class TimeoutError extends Error {
  /**
   * Creates the error.
   *
   * @param message What timed out.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TimeoutError";
  }
}

/**
 * The pool is closed (or closing) and takes no more calls.
 *
 * @example
 * ```ts
 * import { PoolClosedError } from "./errors.ts";
 * console.assert(new PoolClosedError("thumbs").message.includes("thumbs"));
 * ```
 */
export class PoolClosedError extends Error {
  /**
   * Creates the error.
   *
   * @param pool The pool's name.
   */
  constructor(pool: string) {
    super(`Pool "${pool}" is closed`);
    this.name = "PoolClosedError";
  }
}
