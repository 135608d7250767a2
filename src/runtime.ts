/**
 * The few process facts and actions the parent side needs, on Deno or
 * Node.js: environment, host name, pid, working directory, file existence,
 * timer unref, and spawning a child process. Sockets live in `transport.ts`.
 *
 * @module
 */

import type * as NodeChildProcess from "node:child_process";

/** Whether this is Deno (else Node.js or another runtime with `process`). */
export const isDeno: boolean = typeof Deno !== "undefined" &&
  typeof Deno.connect === "function";

interface NodeProcess {
  env: Record<string, string | undefined>;
  pid: number;
  cwd(): string;
  execPath: string;
  getBuiltinModule?(name: string): unknown;
}

const nodeProcess = (globalThis as unknown as { process?: NodeProcess }).process;

function nodeModule<T>(name: string): T {
  const mod = nodeProcess?.getBuiltinModule?.(name);
  if (mod === undefined) throw new Error(`Cannot load "${name}" in this runtime`);
  return mod as T;
}

/**
 * Reads an environment variable.
 *
 * @param name The variable.
 * @returns Its value, or `undefined`.
 */
export function env(name: string): string | undefined {
  return isDeno ? Deno.env.get(name) : nodeProcess?.env[name];
}

/**
 * The host name of this machine (a container's host name in a container).
 *
 * @returns The host name.
 */
export function hostname(): string {
  return isDeno ? Deno.hostname() : nodeModule<{ hostname(): string }>("node:os").hostname();
}

/**
 * This process's id.
 *
 * @returns The pid.
 */
export function pid(): number {
  return isDeno ? Deno.pid : nodeProcess?.pid ?? 0;
}

/**
 * The working directory.
 *
 * @returns Its absolute path.
 */
export function cwd(): string {
  return isDeno ? Deno.cwd() : nodeProcess?.cwd() ?? "/";
}

/**
 * Whether a path exists (`false` when it cannot be checked).
 *
 * @param path The path.
 * @returns Whether it exists.
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    if (isDeno) await Deno.stat(path);
    else {await nodeModule<{ promises: { stat(p: string): Promise<unknown> } }>("node:fs").promises
        .stat(path);}
    return true;
  } catch {
    return false;
  }
}

/**
 * Lets a timer not keep the process alive.
 *
 * @param timer What `setTimeout`/`setInterval` returned.
 */
export function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  if (isDeno) Deno.unrefTimer(timer as unknown as number);
  else (timer as unknown as { unref?: () => void }).unref?.();
}

/** How a child process ended. */
export interface ChildStatus {
  /** The exit code (`null` when killed by a signal). */
  code: number | null;
  /** The signal that killed it, if any. */
  signal: string | null;
}

/** A spawned child process. */
export interface Child {
  /** Its pid. */
  readonly pid: number;
  /** Its standard error, as bytes. */
  readonly stderr: AsyncIterable<Uint8Array>;
  /** Resolves when it has exited. */
  readonly status: Promise<ChildStatus>;
  /** Sends a signal; `false` when it has already exited. */
  kill(signal: string): boolean;
}

/** Options for {@linkcode spawn}. */
export interface SpawnOptions {
  /** Full environment of the child. */
  env: Record<string, string>;
  /** Working directory. */
  cwd?: string;
}

/**
 * Starts a child process with stdin closed, stdout inherited and stderr piped.
 *
 * @param command The executable.
 * @param args Its arguments.
 * @param options Environment and working directory.
 * @returns The child.
 */
export function spawn(command: string, args: string[], options: SpawnOptions): Child {
  if (isDeno) {
    const child = new Deno.Command(command, {
      args,
      env: options.env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdin: "null",
      stdout: "inherit",
      stderr: "piped",
    }).spawn();
    return {
      pid: child.pid,
      stderr: child.stderr,
      status: child.status.then((s) => ({ code: s.signal ? null : s.code, signal: s.signal })),
      kill: (signal) => {
        try {
          child.kill(signal as Deno.Signal);
          return true;
        } catch {
          return false;
        }
      },
    };
  }
  const cp = nodeModule<typeof NodeChildProcess>("node:child_process");
  const child = cp.spawn(command, args, {
    env: { ...nodeProcess?.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdio: ["ignore", "inherit", "pipe"],
  });
  const status = new Promise<ChildStatus>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", () => resolve({ code: 127, signal: null }));
  });
  return {
    pid: child.pid ?? 0,
    stderr: child.stderr as unknown as AsyncIterable<Uint8Array>,
    status,
    kill: (signal) =>
      child.exitCode === null && child.signalCode === null &&
      child.kill(signal as NodeJS.Signals),
  };
}

/**
 * The Deno executable to start runners with: this one on Deno, `deno` from `PATH` elsewhere.
 *
 * @returns The command.
 */
export function denoExecutable(): string {
  return isDeno ? Deno.execPath() : env("DENO_BIN") ?? "deno";
}
