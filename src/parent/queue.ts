/**
 * Callers waiting for a slot, first in first out. A waiter that gives up
 * (timeout, abort) is marked settled and skipped, not searched for.
 *
 * @module
 */

import type { Runner } from "./placement.ts";

/** One caller waiting for a runner slot. */
export interface Waiter {
  resolve: (runner: Runner) => void;
  reject: (err: unknown) => void;
  settled: boolean;
}

/** The FIFO of waiters. */
export class WaiterQueue {
  #queue: Waiter[] = [];
  #head = 0;
  /** Waiters still waiting. */
  queued = 0;

  /** Adds a waiter at the end. */
  push(waiter: Waiter): void {
    this.#queue.push(waiter);
    this.queued++;
  }

  /** A waiter gave up (it marked itself settled). */
  unqueue(): void {
    this.queued--;
  }

  /** Takes the longest-waiting waiter, marked settled. */
  takeFirst(): Waiter | undefined {
    while (this.#head < this.#queue.length) {
      const w = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      if (!w.settled) return this.#taken(w);
    }
    return undefined;
  }

  /** Takes the newest waiter, marked settled. */
  takeLast(): Waiter | undefined {
    while (this.#queue.length > this.#head) {
      const w = this.#queue.pop()!;
      if (!w.settled) return this.#taken(w);
    }
    return undefined;
  }

  #taken(w: Waiter): Waiter {
    w.settled = true;
    this.queued--;
    return w;
  }
}
