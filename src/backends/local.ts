/**
 * `LocalBackend`: runners inside the parent process, over real loopback
 * sockets — for tests and development.
 *
 * @module
 */

import { runRunner } from "../runner/main.ts";
import type { Backend, BootSpec, ParentAddress, RunnerHandle } from "./backend.ts";

interface LocalHandle extends RunnerHandle {
  controller: AbortController;
}

/**
 * Runs each runner in-process: same protocol, same handshake, same
 * Terminator, no process boundary. Function sources are evaluated in the
 * parent's global scope.
 *
 * @example
 * ```ts
 * import { LocalBackend, Pool } from "../../mod.ts";
 * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
 * console.assert(await pool.call((a: number, b: number) => a + b, [1, 2]) === 3);
 * ```
 */
export class LocalBackend implements Backend {
  /** Always `"local"`. */
  readonly name = "local";
  #running = new Set<LocalHandle>();

  /**
   * Runners are in this process: both sides use loopback.
   *
   * @returns Loopback for both sides.
   */
  prepare(): Promise<ParentAddress> {
    return Promise.resolve({ listenHost: "127.0.0.1", dialHost: "127.0.0.1" });
  }

  /**
   * Starts a runner in this process.
   *
   * @param spec The boot spec.
   * @returns The handle.
   */
  boot(spec: BootSpec): Promise<RunnerHandle> {
    const controller = new AbortController();
    const exited = runRunner(spec.parentEnv, { signal: controller.signal }).then(
      (exit) => `${exit.reason}${exit.code === 0 ? "" : ` (code ${exit.code}): ${exit.message}`}`,
      (err) => `crashed: ${(err as Error).message}`,
    );
    const handle: LocalHandle = { id: spec.id, exited, controller };
    this.#running.add(handle);
    exited.then(() => this.#running.delete(handle));
    return Promise.resolve(handle);
  }

  /**
   * Stops a runner and waits for it to end.
   *
   * @param handle The runner.
   */
  async stop(handle: RunnerHandle): Promise<void> {
    const local = handle as LocalHandle;
    local.controller.abort();
    await local.exited;
  }

  /**
   * Ends a runner abruptly, as a crash would: its socket closes mid-call (for tests).
   *
   * @param runnerId The runner's id.
   * @returns Whether such a runner was running.
   */
  kill(runnerId: string): boolean {
    for (const h of this.#running) {
      if (h.id === runnerId) {
        h.controller.abort();
        return true;
      }
    }
    return false;
  }

  /** Stops whatever is still running. */
  async close(): Promise<void> {
    await Promise.all([...this.#running].map((h) => this.stop(h)));
  }
}
