/**
 * The lifetime of one client call: its caller's `AbortSignal` and its
 * timeout, and what to tear down when either fires.
 *
 * @module
 */

/**
 * Tracks the abort signal and timeout of one call. When either fires, the
 * attached teardown runs (destroying the call's connection), and the call
 * rejects with the signal's reason or a `TimeoutError` `DOMException`.
 */
export class CallScope {
  #signal: AbortSignal | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #aborted = false;
  #reason: unknown;
  #teardown: (() => void) | undefined;
  #waiters: ((reason: unknown) => void)[] = [];
  #onSignal = (): void => this.#abort(this.#signal!.reason);

  /**
   * @param signal The caller's signal, if any.
   * @param timeout Milliseconds the whole call may take, if bounded.
   * @param action What the call does, for the timeout message ("inspect container \"x\"").
   */
  constructor(signal: AbortSignal | undefined, timeout: number | undefined, action: string) {
    if (signal !== undefined) {
      if (signal.aborted) {
        this.#aborted = true;
        this.#reason = signal.reason;
        return;
      }
      this.#signal = signal;
      signal.addEventListener("abort", this.#onSignal, { once: true });
    }
    if (timeout !== undefined) {
      if (!(timeout >= 0) || !Number.isFinite(timeout)) {
        this.dispose();
        throw new RangeError(`Cannot ${action}: invalid timeout ${timeout}`);
      }
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#abort(
          new DOMException(`Cannot ${action}: timed out after ${timeout} ms`, "TimeoutError"),
        );
      }, timeout);
    }
  }

  /**
   * Whether the signal fired or the timeout passed.
   *
   * @returns `true` once aborted.
   */
  get aborted(): boolean {
    return this.#aborted;
  }

  /**
   * Why the call was aborted.
   *
   * @returns The signal's reason or the timeout error.
   */
  get reason(): unknown {
    return this.#reason;
  }

  /**
   * Whether an abort can still happen (a signal or a timer is armed).
   *
   * @returns `true` when armed.
   */
  get armed(): boolean {
    return this.#signal !== undefined || this.#timer !== undefined;
  }

  /**
   * Sets the teardown to run on abort (replacing the previous one).
   *
   * @param teardown Destroys the call's connection.
   */
  attach(teardown: () => void): void {
    this.#teardown = teardown;
  }

  /**
   * Waits for a promise unless the call is aborted first; a value that
   * arrives after the abort is handed to `discard`.
   *
   * @param promise What to wait for.
   * @param discard Cleans up a late value.
   * @returns The promise's value.
   */
  race<T>(promise: Promise<T>, discard: (value: T) => void): Promise<T> {
    if (this.#aborted) {
      promise.then(discard, () => {});
      return Promise.reject(this.#reason);
    }
    if (!this.armed) return promise;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const waiter = (reason: unknown) => {
        settled = true;
        reject(reason);
      };
      this.#waiters.push(waiter);
      promise.then(
        (value) => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          if (settled) discard(value);
          else resolve(value);
        },
        (error) => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          if (!settled) reject(error);
        },
      );
    });
  }

  /** Disarms the signal listener and the timer; the call is over. */
  dispose(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#signal !== undefined) {
      this.#signal.removeEventListener("abort", this.#onSignal);
      this.#signal = undefined;
    }
    this.#teardown = undefined;
  }

  #abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const teardown = this.#teardown;
    this.dispose();
    teardown?.();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter(reason);
  }
}
