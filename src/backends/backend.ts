/**
 * The Backend interface: what a pool needs from whatever starts runners. Small
 * on purpose, so a Kubernetes or Fly backend is a page of code.
 *
 * @module
 */

import type { FlameAttributes, FlameEventName } from "../events.ts";

/** Where the parent listens, and the host its runners dial to reach it. */
export interface ParentAddress {
  /** Address the parent binds (never all interfaces unless the backend must). */
  listenHost: string;
  /** Host name or address the runners dial. */
  dialHost: string;
  /**
   * When the parent must listen on every interface (`listenHost` `0.0.0.0`,
   * because the address runners arrive at does not exist yet), the only local
   * address connections are accepted at: any other is closed unread.
   */
  acceptOn?: string;
}

/** What a backend needs to start one runner. */
export interface BootSpec {
  /** The runner id (for logs and labels). */
  id: string;
  /** The `FLAME_PARENT` value the runner must get; it holds the runner's secret. */
  parentEnv: string;
  /** The pool's name. */
  pool: string;
  /** Aborted when the pool gives up on this boot (boot timeout, pool closing). */
  signal: AbortSignal;
  /** Reports boot phases and progress (the pool adds pool and runner attributes). */
  onEvent?: (name: FlameEventName, attributes: FlameAttributes) => void;
}

/** A started runner, as the backend tracks it. */
export interface RunnerHandle {
  /** The runner id. */
  readonly id: string;
  /** Resolves (never rejects) with a description once the runner is known to have exited. */
  readonly exited: Promise<string>;
}

/**
 * Starts and stops runners for a pool. One backend instance per pool.
 *
 * @example
 * ```ts
 * import type { Backend } from "@flame/docker";
 * function describe(b: Backend): string {
 *   return `backend ${b.name}`;
 * }
 * ```
 */
export interface Backend {
  /** Short name for logs (`"docker"`, `"process"`, `"local"`). */
  readonly name: string;
  /** Called once before the first boot: says where the parent must listen. */
  prepare(): Promise<ParentAddress>;
  /**
   * Starts a runner that will run `runner.ts` with `FLAME_PARENT = spec.parentEnv`.
   * Resolves once it is started (not yet connected).
   */
  boot(spec: BootSpec): Promise<RunnerHandle>;
  /** Stops and removes a runner. Idempotent; never throws for a runner already gone. */
  stop(handle: RunnerHandle): Promise<void>;
  /**
   * Ends a runner abruptly, as a crash would (for tests and chaos drills):
   * the pool sees it exit without a stop.
   *
   * @param runnerId The runner's id.
   * @returns Whether a runner of that id was found.
   */
  kill?(runnerId: string): boolean;
  /** Removes leftovers of earlier parents that died (only `pool`'s when given); resolves with how many. */
  reap?(options?: { pool?: string }): Promise<number>;
  /** Releases the backend's own resources (after every runner is stopped). */
  close?(): Promise<void>;
  /**
   * Whether a failed `boot()` may succeed when tried again (the engine's
   * transient answers: a 5xx, a 409 name race, a connection reset): the pool
   * then retries the boot with backoff, within `bootTimeout`, before it
   * reports a `BootError`. Without it no boot is retried.
   *
   * @param error What `boot()` rejected with.
   */
  transient?(error: unknown): boolean;
}
