/**
 * A contract both sides share: what a function running on a runner receives
 * as `this` (the runner builds it; the pool's types name it).
 *
 * @example
 * ```ts
 * import type { CallContext } from "@flame/docker";
 * async function slow(this: CallContext, ms: number): Promise<string> {
 *   await new Promise((r) => setTimeout(r, ms));
 *   return this.signal.aborted ? "cancelled" : "done";
 * }
 * ```
 *
 * @module
 */

/** The per-call context bound as `this` (use a `function`, not an arrow, to read it). */
export interface CallContext {
  /** Aborted when the caller times out, aborts, breaks out of a stream, or the runner shuts down. */
  readonly signal: AbortSignal;
  /** The runner's id. */
  readonly runnerId: string;
  /**
   * Which attempt this is: 1, or more when the pool retries the call (see the
   * `retry` option): a function that must not repeat a side effect can check it.
   */
  readonly attempt: number;
}
