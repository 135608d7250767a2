/**
 * The Terminator decides when a runner must exit: the parent went silent
 * (no frame within the heartbeat timeout — also catches a half-open socket),
 * the runner has been idle too long, or the parent asked it to shut down and
 * the grace period ran out. Whatever killed the parent, the runner is gone
 * within the heartbeat timeout.
 *
 * @module
 */

import type { Timer } from "../util/timer.ts";

/**
 * The longest delay a timer holds (2^31-1 ms, about 24.8 days); a longer one
 * fires at once. Pools send longer timings (a 30-day `idleShutdownAfter`).
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** Why a runner is exiting. */
export type ExitReason =
  | "parent-closed"
  | "heartbeat-timeout"
  | "idle"
  | "shutdown"
  | "stopped";

/** Terminator timings (milliseconds). */
export interface TerminatorOptions {
  /** How often to send a heartbeat. */
  heartbeatInterval: number;
  /** Silence after which the parent counts as dead. */
  heartbeatTimeout: number;
  /** Idle time before exiting on its own; `null`: never. */
  idleTimeout: number | null;
  /** Sends one heartbeat. */
  sendHeartbeat: () => void;
  /** Called once with the reason when the runner must stop. */
  onExit: (reason: ExitReason) => void;
}

/** Watches heartbeats and idleness for one runner link. */
export class Terminator {
  #opts: TerminatorOptions;
  #lastHeard = Date.now();
  #tick: Timer | undefined;
  #started = false;
  #idleTimer: Timer | undefined;
  #idleSince = Date.now();
  #busy = 0;
  #done = false;

  /**
   * Arms nothing yet: see {@linkcode Terminator.start}.
   *
   * @param options Timings and hooks.
   */
  constructor(options: TerminatorOptions) {
    this.#opts = options;
  }

  /**
   * Arms the heartbeat and, when idle, the idle countdown. Separate from the
   * constructor because in Deno 2.9 a process's first `setTimeout` or
   * `setInterval` loads the `node:timers` polyfill (≈ 15–25 ms): the runner
   * starts its timers once its first answers are out, not on a cold call's
   * path. Silence and idleness are measured from construction all the same.
   */
  start(): void {
    if (this.#started || this.#done) return;
    this.#started = true;
    this.#tick = setInterval(
      () => this.#check(),
      Math.min(this.#opts.heartbeatInterval, MAX_TIMER_DELAY),
    );
    // Idle since before the start: the idle check arms for the rest (or exits).
    this.#idleCheck();
  }

  /** Records that a frame arrived from the parent. */
  heard(): void {
    this.#lastHeard = Date.now();
  }

  /**
   * Starts or stops the idle countdown. A busy runner leaves the idle timer
   * armed (no timer churn per call): when it fires it measures the idle time
   * and re-arms for the rest.
   *
   * @param busy Calls running now.
   */
  busyChanged(busy: number): void {
    if (this.#done) return;
    this.#busy = busy;
    if (busy > 0 || this.#opts.idleTimeout === null) return;
    this.#idleSince = Date.now();
    if (this.#idleTimer === undefined && this.#started) this.#armIdle(this.#opts.idleTimeout);
  }

  /** Arms the idle timer (in steps a timer can hold). */
  #armIdle(ms: number): void {
    this.#idleTimer = setTimeout(() => this.#idleCheck(), Math.min(ms, MAX_TIMER_DELAY));
  }

  #idleCheck(): void {
    this.#idleTimer = undefined;
    const limit = this.#opts.idleTimeout;
    // Busy: the release that makes the runner idle again re-arms.
    if (this.#done || this.#busy > 0 || limit === null) return;
    const idleFor = Date.now() - this.#idleSince;
    if (idleFor >= limit) this.exit("idle");
    else this.#armIdle(limit - idleFor);
  }

  /**
   * Stops watching and reports the reason (first call wins).
   *
   * @param reason Why.
   */
  exit(reason: ExitReason): void {
    if (this.#done) return;
    this.dispose();
    this.#opts.onExit(reason);
  }

  /** Stops every timer without reporting. */
  dispose(): void {
    this.#done = true;
    clearInterval(this.#tick);
    clearTimeout(this.#idleTimer);
  }

  #check(): void {
    if (Date.now() - this.#lastHeard > this.#opts.heartbeatTimeout) {
      this.exit("heartbeat-timeout");
      return;
    }
    this.#opts.sendHeartbeat();
  }
}
