/**
 * Where a call runs: the pool's runners, and the choice of one with a free
 * slot (the least loaded), taking a slot and giving it back.
 *
 * @module
 */

import type { RunnerHandle } from "../backends/backend.ts";
import type { Timer } from "../util/timer.ts";
import type { RunnerLink } from "./runner_link.ts";

/** One booted runner, as the pool tracks it. */
export interface Runner {
  id: string;
  link: RunnerLink;
  handle: RunnerHandle;
  /** Calls occupying its slots. */
  busy: number;
  /** Calls it has been given. */
  served: number;
  idleSince: number;
  idleTimer: Timer | undefined;
  /** When `idleTimer` fires (`Date.now()` ms). */
  idleTimerAt: number;
  stopping: boolean;
  /** Takes no new call and stops once idle (its code changed, or `max` was lowered), and why. */
  retiring: "resized" | "code-changed" | undefined;
}

/** The pool's runners and their slots. */
export class Placement {
  /** Booted runners, in boot order (an array: iterating a `Set` allocates per call). */
  readonly runners: Runner[] = [];
  /** Calls occupying a slot, over every runner. */
  busy = 0;
  readonly #singleUse: boolean;
  #maxConcurrency: number;

  constructor(singleUse: boolean, maxConcurrency: number) {
    this.#singleUse = singleUse;
    this.#maxConcurrency = maxConcurrency;
  }

  /** Changes the slots per runner (`Pool.resize()`): runners over it take no call until under. */
  setMaxConcurrency(n: number): void {
    this.#maxConcurrency = n;
  }

  /** Slots one runner offers. */
  get perRunner(): number {
    return this.#singleUse ? 1 : this.#maxConcurrency;
  }

  /** The least-loaded runner with a free slot, if any. */
  pick(): Runner | undefined {
    let best: Runner | undefined;
    const runners = this.runners;
    for (let i = 0; i < runners.length; i++) {
      const r = runners[i]!;
      if (r.stopping || r.retiring !== undefined || r.link.isClosed) continue;
      if (this.#singleUse ? r.served > 0 : r.busy >= this.#maxConcurrency) continue;
      if (best === undefined || r.busy < best.busy) best = r;
    }
    return best;
  }

  /** Takes a slot on `runner`. */
  take(runner: Runner): void {
    runner.busy++;
    runner.served++;
    this.busy++;
    // The idle timer stays armed: when it fires on a busy runner it does nothing,
    // and the release that makes the runner idle again arms it if needed.
  }

  /** Gives a slot on `runner` back; returns whether the runner is now idle (and not stopping). */
  release(runner: Runner): boolean {
    runner.busy--;
    this.busy--;
    return runner.busy === 0 && !runner.stopping;
  }

  /** Runners not on their way out. */
  active(): number {
    let n = 0;
    const runners = this.runners;
    for (let i = 0; i < runners.length; i++) if (!runners[i]!.stopping) n++;
    return n;
  }

  /** Forgets `runner`; returns whether it was there. */
  remove(runner: Runner): boolean {
    const at = this.runners.indexOf(runner);
    if (at < 0) return false;
    this.runners.splice(at, 1);
    return true;
  }
}
