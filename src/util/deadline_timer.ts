/**
 * One timer for many deadlines: arming a `setTimeout` per call (and clearing
 * it when the call ends) is a measurable part of a call's cost, while almost
 * every call ends long before its deadline. Entries join a set; the single
 * timer is armed for the earliest deadline it knows of, and when it fires it
 * expires what is due and re-arms for the next. An entry that ends is simply
 * removed; no timer is touched.
 *
 * @module
 */

import type { Timer } from "./timer.ts";

/** The longest delay a timer holds (2^31-1 ms); a longer deadline is reached in steps. */
const MAX_DELAY = 2 ** 31 - 1;

/** Something with a deadline (`Date.now()` milliseconds). */
export interface Deadline {
  /** When it expires. */
  readonly deadline: number;
}

/**
 * Expires entries at their deadlines with a single timer.
 *
 * @example
 * ```ts
 * import { DeadlineTimer } from "./deadline_timer.ts";
 * const timers = new DeadlineTimer<{ deadline: number; name: string }>((e) => console.log(e.name));
 * const entry = { deadline: Date.now() + 10, name: "late" };
 * timers.add(entry);
 * timers.delete(entry); // ended in time: nothing fires
 * timers.dispose();
 * ```
 */
export class DeadlineTimer<T extends Deadline> {
  #entries = new Set<T>();
  #onExpire: (entry: T) => void;
  #timer: Timer | undefined;
  #armedFor = Infinity;

  /**
   * @param onExpire Called once for each entry whose deadline passed (it is removed first).
   */
  constructor(onExpire: (entry: T) => void) {
    this.#onExpire = onExpire;
  }

  /** Entries waiting. */
  get size(): number {
    return this.#entries.size;
  }

  /** Watches `entry` until its deadline or {@linkcode DeadlineTimer.delete}. */
  add(entry: T): void {
    this.#entries.add(entry);
    if (entry.deadline < this.#armedFor) this.#arm(entry.deadline);
  }

  /** Stops watching `entry`. The timer stays armed (it finds nothing due and re-arms or rests). */
  delete(entry: T): void {
    this.#entries.delete(entry);
  }

  /** Forgets every entry and clears the timer. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    this.#entries.clear();
  }

  #arm(deadline: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = deadline;
    this.#timer = setTimeout(
      () => this.#fire(),
      Math.min(MAX_DELAY, Math.max(0, deadline - Date.now())),
    );
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = Date.now();
    let next = Infinity;
    const due: T[] = [];
    for (const e of this.#entries) {
      if (e.deadline <= now) due.push(e);
      else if (e.deadline < next) next = e.deadline;
    }
    for (const e of due) this.#entries.delete(e);
    if (next !== Infinity) this.#arm(next);
    for (const e of due) this.#onExpire(e);
  }
}
