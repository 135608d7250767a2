/**
 * `ProcessBackend`: each runner a local `deno run runner.ts` subprocess; its
 * stdout and stderr are forwarded line by line as `flame.runner.output`
 * events (and log lines), and their last lines explain its exit.
 *
 * @module
 */

import {
  type Child,
  type ChildStatus,
  cwd,
  findCommand,
  findDeno,
  isMissingFile,
  spawn,
} from "../runtime.ts";
import { BootError } from "../errors.ts";
import type { Backend, BootSpec, ParentAddress, RunnerHandle } from "./backend.ts";
import { RunnerOutput } from "./runner_output.ts";

/** Options for {@linkcode ProcessBackend}. */
export interface ProcessBackendOptions {
  /**
   * The runner script (path or URL). Defaults to this package's own runner
   * (`runner.ts`; `runner.js` in the npm package).
   */
  runner?: string | URL;
  /**
   * The Deno executable (a path, or a name looked up on `PATH`). Defaults to
   * this Deno (`Deno.execPath()`); on Node.js, `$DENO_BIN`, else `deno` on
   * `PATH`, else the binary of the `deno` npm package (a dependency of this
   * package on npm).
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
   * Last lines of the runner's output (stdout and stderr, in order; the name
   * is older than stdout's part in it) kept to explain its exit.
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

/** `ts` from the sources, `js` in the npm build: the default runner sits beside this module's root. */
const OWN_EXTENSION = import.meta.url.endsWith(".js") ? "js" : "ts";

/** What a runner's exit code means, beyond the number. */
const EXIT_MEANINGS: Record<number, string> = {
  2: "the runner found FLAME_PARENT missing or invalid",
  3: "the runner could not reach the parent",
  4: "the runner and the parent failed to authenticate each other",
  126: "a command could not be executed (not executable, or a directory)",
  127: "a command was not found (a missing interpreter, or a wrapper script calling one)",
};

/** How a runner process ended, in words. */
function describeExit(status: ChildStatus, deno: string): string {
  if (status.error !== undefined) return `"${deno}" could not be started: ${status.error}`;
  if (status.signal) return `killed by ${status.signal}`;
  const meaning = EXIT_MEANINGS[status.code ?? -1];
  return meaning === undefined
    ? `exit code ${status.code}`
    : `exit code ${status.code}: ${meaning}`;
}

interface ProcessHandle extends RunnerHandle {
  child: Child;
}

/**
 * Runs each runner as a child process of the parent. Works on any machine
 * with Deno; the embedded default for development and the demo. What a
 * runner prints reaches the pool as `flame.runner.output` events and log
 * lines naming the runner (stdout at info, stderr at warn; over 100 lines/s
 * lines are dropped and counted), not the parent's own stdout.
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
   * @returns The handle; `exited` resolves with the exit status (in words) and the last output lines.
   * @throws {BootError} (as a rejection) When no Deno executable is found (the
   * message says where it looked and how to fix it) or the runner script does not exist.
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
    try {
      return Promise.resolve(this.#start(spec));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #start(spec: BootSpec): ProcessHandle {
    const deno = this.#deno();
    const script = this.#runner();
    const problem = deno.problem ?? script.problem;
    if (problem !== undefined) throw new BootError(`Cannot boot runner "${spec.id}": ${problem}`);
    let child: Child;
    try {
      child = spawn(
        deno.path,
        ["run", ...(this.#opts.denoArgs ?? DEFAULTS.denoArgs), script.path],
        {
          env: { ...this.#opts.env, FLAME_PARENT: spec.parentEnv },
          ...(this.#opts.cwd === undefined ? {} : { cwd: this.#opts.cwd }),
        },
      );
    } catch (error) {
      throw new BootError(
        `Cannot boot runner "${spec.id}": cannot run "${deno.path}": ${(error as Error).message}`,
        { cause: error },
      );
    }
    const output = new RunnerOutput(spec.onEvent, {
      tailLines: this.#opts.stderrLines ?? DEFAULTS.stderrLines,
    });
    const drain = async (stream: "stdout" | "stderr") => {
      for await (const bytes of child[stream]) output.write(stream, bytes);
    };
    const drained = Promise.all([drain("stdout").catch(() => {}), drain("stderr").catch(() => {})])
      .then(() => output.end());
    const exited = Promise.all([child.status, drained]).then(([status]) => {
      this.#running.delete(handle);
      const how = describeExit(status, deno.path);
      const tail = output.tail;
      return tail.length > 0 ? `${how}; last output lines:\n${tail.join("\n")}` : how;
    });
    const handle: ProcessHandle = { id: spec.id, exited, child };
    this.#running.add(handle);
    return handle;
  }

  /** The Deno to start; else where it was looked for, and how to fix that. */
  #deno(): { path: string; problem?: string } {
    const given = this.#opts.deno;
    const found = given === undefined ? findDeno() : findCommand(given, this.#opts.cwd ?? cwd());
    if (found.path !== undefined) return { path: found.path };
    const problem = given === undefined
      ? `no Deno executable found (${found.looked.join("; ")}): install Deno ` +
        '(https://deno.com) or the "deno" npm package (npm install deno), or set DENO_BIN ' +
        'or the "deno" option of ProcessBackend to a Deno executable'
      : `no Deno executable found for ProcessBackend option "deno" (${found.looked.join("; ")}): ` +
        "give the path of a Deno executable, or leave the option out to use the default";
    return { path: given ?? "deno", problem };
  }

  /** The runner script; when it is a local file that does not exist, which one and why. */
  #runner(): { path: string; problem?: string } {
    const given = this.#opts.runner;
    const runner = given ?? new URL(`../../runner.${OWN_EXTENSION}`, import.meta.url);
    const url = runner instanceof URL
      ? runner
      : /^[a-z][a-z0-9+.-]+:/i.test(runner)
      ? new URL(runner)
      : undefined;
    // Other URLs (https:, jsr:, npm:) are Deno's to fetch, and to report.
    if (url !== undefined && url.protocol !== "file:") return { path: url.href };
    const path = url === undefined ? runner as string : decodeURIComponent(url.pathname);
    const dir = this.#opts.cwd ?? cwd();
    if (!isMissingFile(path.startsWith("/") ? path : `${dir}/${path}`)) return { path };
    const whose = given === undefined
      ? `this package's own runner, resolved from ${import.meta.url}; if this code was ` +
        'bundled, set the "runner" option of ProcessBackend to the runner file'
      : `ProcessBackend option "runner"${path.startsWith("/") ? "" : `, relative to ${dir}`}`;
    return { path, problem: `the runner script "${path}" does not exist (${whose})` };
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
