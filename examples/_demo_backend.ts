/**
 * Picks the demo's backend: Docker when an engine answers, else subprocesses.
 *
 * @module
 */

import { type Backend, ProcessBackend } from "../mod.ts";

/** The chosen backend and a sentence saying why. */
export interface DemoBackend {
  /** The backend. */
  backend: Backend;
  /** What was chosen and why. */
  description: string;
}

/**
 * Chooses the demo backend.
 *
 * @param _say Progress output.
 * @returns The backend.
 */
export function chooseDemoBackend(_say: (msg: string) => void): Promise<DemoBackend> {
  return Promise.resolve({
    backend: new ProcessBackend(),
    description: "process (each runner a `deno run runner.ts` subprocess)",
  });
}
