/**
 * The backends every core test body runs against, and a backend wrapper that
 * fails chosen boots.
 */

import { LocalBackend, ProcessBackend } from "../../mod.ts";
import type { Backend, BootSpec, ParentAddress, RunnerHandle } from "../../mod.ts";

/** A named backend factory. */
export interface BackendCase {
  /** Shown in test names. */
  kind: string;
  /** A fresh backend (one per pool). */
  make: () => Backend & { kill(runnerId: string): boolean };
}

/** LocalBackend and ProcessBackend: same test bodies for both. */
export const CORE_BACKENDS: BackendCase[] = [
  { kind: "local", make: () => new LocalBackend() },
  { kind: "process", make: () => new ProcessBackend() },
];

/** Delegates to `inner` but fails the boots whose 1-based number is in `failBoots`. */
export class FlakyBackend implements Backend {
  readonly name: string;
  #inner: Backend;
  #failBoots: Set<number>;
  #count = 0;

  constructor(inner: Backend, failBoots: number[]) {
    this.#inner = inner;
    this.name = `flaky-${inner.name}`;
    this.#failBoots = new Set(failBoots);
  }

  prepare(): Promise<ParentAddress> {
    return this.#inner.prepare();
  }

  boot(spec: BootSpec): Promise<RunnerHandle> {
    this.#count++;
    if (this.#failBoots.has(this.#count)) {
      return Promise.reject(new Error(`injected failure of boot ${this.#count}`));
    }
    return this.#inner.boot(spec);
  }

  stop(handle: RunnerHandle): Promise<void> {
    return this.#inner.stop(handle);
  }

  close(): Promise<void> {
    return this.#inner.close?.() ?? Promise.resolve();
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 20 ms until it is true or `timeoutMs` passes; returns whether it became true. */
export async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(20);
  }
  return check();
}

/** Like {@linkcode waitFor}, for an async check (polled every 50 ms). */
export async function waitForAsync(
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(50);
  }
  return await check();
}
