/**
 * `ProcessBackend`: each runner a local `deno run runner.ts` subprocess.
 *
 * @module
 */

import { type Child, denoExecutable, spawn } from "../runtime.ts";
import type { Backend, BootSpec, ParentAddress, RunnerHandle } from "./backend.ts";

/** Options for {@linkcode ProcessBackend}. */
export interface ProcessBackendOptions {
  /** The runner script (path or URL). Defaults to this package's `runner.ts`. */
  runner?: string | URL;
  /**
   * The Deno executable. Defaults to this Deno (`Deno.execPath()`); on Node.js,
   * `$DENO_BIN` or else `deno`.
   */
  deno?: string;
  /**
   * Arguments between `run` and the script.
   *
   * @default {["--allow-all"]}
   */
  denoArgs?: string[];
  /** Extra environment for the runner (`FLAME_PARENT` is always set by the pool). */
  env?: Record<string, string>;
  /** Working directory of the runner. Defaults to the parent's. */
  cwd?: string;
  /**
   * Milliseconds `stop` gives a runner between SIGTERM and SIGKILL.
   *
   * @default {5000}
   */
  stopTimeout?: number;
  /**
   * Lines of the runner's stderr kept to explain an early exit.
   *
   * @default {20}
   */
  stderrLines?: number;
}

/** The default of every {@linkcode ProcessBackendOptions} field that has one. */
const DEFAULTS = {
  denoArgs: ["--allow-all"],
  stopTimeout: 5_000,
  stderrLines: 20,
} as const;

interface ProcessHandle extends RunnerHandle {
  child: Child;
}

/**
 * Runs each runner as a child process of the parent. Works on any machine
 * with Deno; the embedded default for development and the demo.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Pool, ProcessBackend } from "@flame/docker";
 *
 * await using pool = new Pool({ backend: new ProcessBackend(), max: 1 });
 * assert.notEqual(await pool.call(() => Deno.pid), Deno.pid);
 * ```
 */
export class ProcessBackend implements Backend {
  /**
   * Always `"process"`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ProcessBackend } from "@flame/docker";
   *
   * assert.equal(new ProcessBackend().name, "process");
   * ```
   */
  readonly name = "process";
  #opts: ProcessBackendOptions;
  #running = new Set<ProcessHandle>();

  /**
   * Creates the backend; nothing starts until the pool boots a runner.
   *
   * @param options Runner script, Deno flags, environment.
   * @throws {TypeError} When `env` sets `FLAME_PARENT`, or `stopTimeout` is not a number.
   * @throws {RangeError} When `stopTimeout` is negative or not finite.
   *
   * @example Least privilege for the runner
   * ```ts
   * import assert from "node:assert/strict";
   * import { Pool, ProcessBackend } from "@flame/docker";
   *
   * const backend = new ProcessBackend({
   *   denoArgs: ["--allow-env=FLAME_PARENT,FLAME_LOG_LEVEL,APP_MODE", "--allow-net=127.0.0.1"],
   *   env: { APP_MODE: "worker" },
   *   stopTimeout: 1000,
   * });
   * await using pool = new Pool({ backend, max: 1 });
   * assert.equal(await pool.call(() => Deno.env.get("APP_MODE")), "worker");
   *
   * assert.throws(() => new ProcessBackend({ env: { FLAME_PARENT: "x" } }), TypeError);
   * assert.throws(() => new ProcessBackend({ stopTimeout: -1 }), RangeError);
   * ```
   */
  constructor(options: ProcessBackendOptions = {}) {
    if (options.env && "FLAME_PARENT" in options.env) {
      throw new TypeError(
        'Invalid ProcessBackend option "env": FLAME_PARENT is set by the pool and cannot be overridden',
      );
    }
    const stopTimeout = options.stopTimeout;
    if (stopTimeout !== undefined && typeof stopTimeout !== "number") {
      throw new TypeError(
        `Invalid ProcessBackend option "stopTimeout": expected milliseconds, got ${typeof stopTimeout}`,
      );
    }
    if (stopTimeout !== undefined && !(stopTimeout >= 0 && Number.isFinite(stopTimeout))) {
      throw new RangeError(
        `Invalid ProcessBackend option "stopTimeout": ${stopTimeout} must be a non-negative number of milliseconds`,
      );
    }
    this.#opts = options;
  }

  /**
   * Runners are local processes: both sides use loopback.
   *
   * @returns Loopback for both sides.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ProcessBackend } from "@flame/docker";
   *
   * const address = await new ProcessBackend().prepare();
   * assert.equal(address.listenHost, "127.0.0.1");
   * ```
   */
  prepare(): Promise<ParentAddress> {
    return Promise.resolve({ listenHost: "127.0.0.1", dialHost: "127.0.0.1" });
  }

  /**
   * Spawns `deno run <runner>`. The pool calls it; a backend that wraps this
   * one can add to it.
   *
   * @param spec The boot spec.
   * @returns The handle; `exited` resolves with the exit status and the last stderr lines.
   *
   * @example Seeing how runners exit
   * ```ts
   * import assert from "node:assert/strict";
   * import { type Backend, type BootSpec, Pool, ProcessBackend, type RunnerHandle } from "@flame/docker";
   *
   * const processes = new ProcessBackend();
   * const exits: Promise<string>[] = [];
   * const backend: Backend = {
   *   name: "watched",
   *   prepare: () => processes.prepare(),
   *   async boot(spec: BootSpec): Promise<RunnerHandle> {
   *     const handle = await processes.boot(spec);
   *     exits.push(handle.exited);
   *     return handle;
   *   },
   *   stop: (handle) => processes.stop(handle),
   * };
   * const pool = new Pool({ backend, max: 1 });
   * await pool.call(() => 1);
   * await pool.close();
   * assert.equal(exits.length, 1);
   * assert.match(await exits[0]!, /exit code|killed by/);
   * ```
   */
  boot(spec: BootSpec): Promise<RunnerHandle> {
    const runner = this.#opts.runner ?? new URL("../../runner.ts", import.meta.url);
    const script = runner instanceof URL
      ? (runner.protocol === "file:" ? decodeURIComponent(runner.pathname) : runner.href)
      : runner;
    const child = spawn(this.#opts.deno ?? denoExecutable(), [
      "run",
      ...(this.#opts.denoArgs ?? DEFAULTS.denoArgs),
      script,
    ], {
      env: { ...this.#opts.env, FLAME_PARENT: spec.parentEnv },
      ...(this.#opts.cwd === undefined ? {} : { cwd: this.#opts.cwd }),
    });
    const tail: string[] = [];
    const keep = this.#opts.stderrLines ?? DEFAULTS.stderrLines;
    const drained = (async () => {
      const decoder = new TextDecoder();
      let partial = "";
      for await (const bytes of child.stderr) {
        const lines = (partial + decoder.decode(bytes, { stream: true })).split("\n");
        partial = lines.pop()!;
        for (const line of lines) {
          tail.push(line);
          if (tail.length > keep) tail.shift();
        }
      }
      if (partial) tail.push(partial);
    })().catch(() => {});
    const exited = Promise.all([child.status, drained]).then(([status]) => {
      this.#running.delete(handle);
      const how = status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`;
      return tail.length > 0 ? `${how}; last stderr lines:\n${tail.join("\n")}` : how;
    });
    const handle: ProcessHandle = { id: spec.id, exited, child };
    this.#running.add(handle);
    return Promise.resolve(handle);
  }

  /**
   * SIGTERM, then SIGKILL after `stopTimeout`; resolves once the process is gone.
   * The pool calls it for each runner that leaves.
   *
   * @param handle The runner.
   *
   * @example Seeing runners leave
   * ```ts
   * import assert from "node:assert/strict";
   * import { type Backend, Pool, ProcessBackend, type RunnerHandle } from "@flame/docker";
   *
   * const processes = new ProcessBackend({ stopTimeout: 500 });
   * const stopped: string[] = [];
   * const backend: Backend = {
   *   name: "logging",
   *   prepare: () => processes.prepare(),
   *   boot: (spec) => processes.boot(spec),
   *   stop(handle: RunnerHandle): Promise<void> {
   *     stopped.push(handle.id);
   *     return processes.stop(handle);
   *   },
   * };
   * const pool = new Pool({ backend, max: 1 });
   * await pool.call(() => 1);
   * await pool.close();
   * assert.equal(stopped.length, 1);
   * ```
   */
  async stop(handle: RunnerHandle): Promise<void> {
    const { child, exited } = handle as ProcessHandle;
    child.kill("SIGTERM");
    const timer = setTimeout(
      () => child.kill("SIGKILL"),
      this.#opts.stopTimeout ?? DEFAULTS.stopTimeout,
    );
    await exited;
    clearTimeout(timer);
  }

  /**
   * Ends a runner abruptly, as a crash would (for tests and chaos drills):
   * sends its process a signal, SIGKILL by default.
   *
   * @param runnerId The runner's id.
   * @param signal The signal.
   * @returns Whether a runner of that id was found.
   *
   * @example Simulating a crash
   * ```ts
   * import assert from "node:assert/strict";
   * import { Pool, ProcessBackend, RunnerExitedError } from "@flame/docker";
   *
   * const backend = new ProcessBackend();
   * await using pool = new Pool({ backend, max: 1 });
   * const child = await pool.placeChild(function () {
   *   return new Promise((resolve) => this.signal.addEventListener("abort", resolve));
   * });
   * assert.ok(backend.kill(child.runnerId));
   * await assert.rejects(child.done, RunnerExitedError);
   * ```
   */
  kill(runnerId: string, signal = "SIGKILL"): boolean {
    for (const h of this.#running) {
      if (h.id === runnerId) {
        // It may have exited already (its exit not yet seen): the kill then fails, harmlessly.
        h.child.kill(signal);
        return true;
      }
    }
    return false;
  }

  /**
   * Stops every runner still running. A pool calls it last when it closes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Pool, ProcessBackend, RunnerExitedError } from "@flame/docker";
   *
   * const backend = new ProcessBackend();
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
