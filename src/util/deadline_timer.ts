/**
 * One timer for many deadlines: arming a `setTimeout` per call (and clearing
 * it when the call ends) is a measurable part of a call's cost, while almost
 * every call ends long before its deadline. Entries join a list; the single
 * timer is armed for the earliest deadline it knows of, and when it fires it
 * expires what is due and re-arms for the next. An entry that ends is simply
 * removed; no timer is touched.
 *
 * @module
 */

import type { Timer } from "./timer.ts";

/** The longest delay a timer holds (2^31-1 ms); a longer deadline is reached in steps. */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Something with a deadline (`Date.now()` milliseconds). The timer keeps its
 * entries in a list threaded through them (`prevDue`/`nextDue`, owned by the
 * timer), so adding and removing allocates nothing: a `Set` whose entries
 * come and go once per call allocates a new hash table every few calls.
 */
export interface Deadline {
  /** When it expires. */
  readonly deadline: number;
  /** The timer's link to the previous entry (`null`: first; `undefined`: not in a timer). */
  prevDue?: Deadline | null | undefined;
  /** The timer's link to the next entry. */
  nextDue?: Deadline | null | undefined;
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
  #head: Deadline | null = null;
  #size = 0;
  #onExpire: (entry: T) => void;
  #timer: Timer | undefined;
  #armedFor = Infinity;
  #paused: boolean;

  /**
   * @param onExpire Called once for each entry whose deadline passed (it is removed first).
   * @param options `paused`: arm no timer until {@linkcode DeadlineTimer.resume} (entries
   * are kept, and any already due expire then).
   */
  constructor(onExpire: (entry: T) => void, options: { paused?: boolean } = {}) {
    this.#onExpire = onExpire;
    this.#paused = options.paused ?? false;
  }

  /** Starts timing after `paused`: expires what is already due, arms for the rest. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#fire();
  }

  /** Entries waiting. */
  get size(): number {
    return this.#size;
  }

  /** Watches `entry` until its deadline or {@linkcode DeadlineTimer.delete}. An entry is in one timer at most. */
  add(entry: T): void {
    if (entry.prevDue !== undefined) return;
    entry.prevDue = null;
    entry.nextDue = this.#head;
    if (this.#head !== null) this.#head.prevDue = entry;
    this.#head = entry;
    this.#size++;
    if (entry.deadline < this.#armedFor && !this.#paused) this.#arm(entry.deadline);
  }

  /** Stops watching `entry`. The timer stays armed (it finds nothing due and re-arms or rests). */
  delete(entry: T): void {
    const prev = entry.prevDue;
    if (prev === undefined) return;
    const next = entry.nextDue ?? null;
    if (prev === null) this.#head = next;
    else prev.nextDue = next;
    if (next !== null) next.prevDue = prev;
    entry.prevDue = undefined;
    entry.nextDue = undefined;
    this.#size--;
  }

  /** Forgets every entry and clears the timer. */
  dispose(): void {
    this.#paused = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    while (this.#head !== null) this.delete(this.#head as T);
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
    for (let e = this.#head; e !== null; e = e.nextDue ?? null) {
      if (e.deadline <= now) due.push(e as T);
      else if (e.deadline < next) next = e.deadline;
    }
    for (const e of due) this.delete(e);
    if (next !== Infinity) this.#arm(next);
    for (const e of due) this.#onExpire(e);
  }
}
