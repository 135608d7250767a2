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
 * Terminator, no process boundary. As in every runner, calls run on call
 * workers (Web Workers of this process, one per CPU it is given), so a call
 * that never yields is stopped at its timeout rather than freezing the
 * parent; function sources are evaluated in a worker's global scope. Where
 * there are no Web Workers (Node.js), calls run on the parent's own thread. What a runner prints is this process's own output,
 * as it is: there is nothing to forward, so no `flame.runner.output` events.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalBackend, Pool } from "@flame/docker";
 *
 * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
 * assert.equal(await pool.call((a: number, b: number) => a + b, [1, 2]), 3);
 * ```
 */
export class LocalBackend implements Backend {
  /**
   * Always `"local"`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend } from "@flame/docker";
   *
   * assert.equal(new LocalBackend().name, "local");
   * ```
   */
  readonly name = "local";
  #running = new Set<LocalHandle>();

  /**
   * Runners are in this process: both sides use loopback.
   *
   * @returns Loopback for both sides.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend } from "@flame/docker";
   *
   * const address = await new LocalBackend().prepare();
   * assert.deepEqual(address, { listenHost: "127.0.0.1", dialHost: "127.0.0.1" });
   * ```
   */
  prepare(): Promise<ParentAddress> {
    return Promise.resolve({ listenHost: "127.0.0.1", dialHost: "127.0.0.1" });
  }

  /**
   * Starts a runner in this process. The pool calls it; a backend that wraps
   * this one can add to it.
   *
   * @param spec The boot spec.
   * @returns The handle.
   *
   * @example Counting boots
   * ```ts
   * import assert from "node:assert/strict";
   * import { type Backend, type BootSpec, LocalBackend, Pool, type RunnerHandle } from "@flame/docker";
   *
   * const local = new LocalBackend();
   * const booted: string[] = [];
   * const backend: Backend = {
   *   name: "counting",
   *   prepare: () => local.prepare(),
   *   boot(spec: BootSpec): Promise<RunnerHandle> {
   *     booted.push(spec.id);
   *     return local.boot(spec);
   *   },
   *   stop: (handle) => local.stop(handle),
   *   close: () => local.close(),
   * };
   * await using pool = new Pool({ backend, max: 1 });
   * await pool.call(() => "hello");
   * assert.equal(booted.length, 1);
   * ```
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
   * Stops a runner and waits for it to end. The pool calls it for each
   * runner that leaves (idle, single use, pool closing).
   *
   * @param handle The runner.
   *
   * @example Seeing runners leave
   * ```ts
   * import assert from "node:assert/strict";
   * import { type Backend, LocalBackend, Pool, type RunnerHandle } from "@flame/docker";
   *
   * const local = new LocalBackend();
   * const stopped: string[] = [];
   * const backend: Backend = {
   *   name: "logging",
   *   prepare: () => local.prepare(),
   *   boot: (spec) => local.boot(spec),
   *   stop(handle: RunnerHandle): Promise<void> {
   *     stopped.push(handle.id);
   *     return local.stop(handle);
   *   },
   * };
   * const pool = new Pool({ backend, max: 1 });
   * await pool.call(() => 1);
   * await pool.close();
   * assert.equal(stopped.length, 1);
   * ```
   */
  async stop(handle: RunnerHandle): Promise<void> {
    const local = handle as LocalHandle;
    local.controller.abort();
    await local.exited;
  }

  /**
   * Ends a runner abruptly, as a crash would (for tests and chaos drills): its
   * socket closes mid-call.
   *
   * @param runnerId The runner's id.
   * @returns Whether a runner of that id was found.
   *
   * @example Simulating a crash
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool, RunnerExitedError } from "@flame/docker";
   *
   * const backend = new LocalBackend();
   * await using pool = new Pool({ backend, max: 1 });
   * const child = await pool.placeChild(function () {
   *   return new Promise((resolve) => this.signal.addEventListener("abort", resolve));
   * });
   * assert.ok(backend.kill(child.runnerId));
   * await assert.rejects(child.done, RunnerExitedError);
   * assert.equal(backend.kill("no-such-runner"), false);
   * ```
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

  /**
   * Stops whatever is still running. A pool calls it last when it closes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LocalBackend, Pool, RunnerExitedError } from "@flame/docker";
   *
   * const backend = new LocalBackend();
   * const pool = new Pool({ backend, max: 1 });
   * const child = await pool.placeChild(function () {
   *   return new Promise((resolve) => this.signal.addEventListener("abort", resolve));
   * });
   * await backend.close(); // the pool sees its runner exit
   * await assert.rejects(child.done, RunnerExitedError);
   * await pool.close();
   * ```
   */
  async close(): Promise<void> {
    await Promise.all([...this.#running].map((h) => this.stop(h)));
  }
}
