/**
 * The few process facts and actions the parent side needs, on Deno or
 * Node.js: environment, host name, pid, working directory, file existence,
 * small file reads, timer unref, and spawning a child process. Sockets live in `transport.ts`.
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
 * Reads a small text file synchronously (Docker's `config.json`, a context's
 * `meta.json`, PEM files), so endpoint discovery can list its candidates
 * without awaiting.
 *
 * @param path The file.
 * @returns Its text, or `undefined` when it (or a directory above it) does not exist.
 * @throws {Error} When it exists but cannot be read (permission denied, a directory, …).
 */
export function readTextFileSync(path: string): string | undefined {
  try {
    if (isDeno) return Deno.readTextFileSync(path);
    return nodeModule<{ readFileSync(p: string, encoding: "utf8"): string }>("node:fs")
      .readFileSync(path, "utf8");
  } catch (error) {
    if (
      isDeno &&
      (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)
    ) {
      return undefined;
    }
    const code = (error as { code?: unknown }).code;
    if (!isDeno && (code === "ENOENT" || code === "ENOTDIR")) return undefined;
    throw error;
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
  /** The exit code (`null` when killed by a signal or never started). */
  code: number | null;
  /** The signal that killed it, if any. */
  signal: string | null;
  /** Why it could not be started (Node.js reports that after the spawn), if so. */
  error?: string;
}

/** A spawned child process. */
export interface Child {
  /** Its pid. */
  readonly pid: number;
  /** Its standard output, as bytes. */
  readonly stdout: AsyncIterable<Uint8Array>;
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
 * Starts a child process with stdin closed, stdout and stderr piped.
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
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return {
      pid: child.pid,
      stdout: child.stdout,
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
    stdio: ["ignore", "pipe", "pipe"],
  });
  const status = new Promise<ChildStatus>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (error) => resolve({ code: null, signal: null, error: error.message }));
  });
  return {
    pid: child.pid ?? 0,
    stdout: child.stdout as unknown as AsyncIterable<Uint8Array>,
    stderr: child.stderr as unknown as AsyncIterable<Uint8Array>,
    status,
    kill: (signal) =>
      child.exitCode === null && child.signalCode === null &&
      child.kill(signal as NodeJS.Signals),
  };
}

/** Where {@linkcode findCommand} or {@linkcode findDeno} found an executable, or where they looked. */
export interface CommandLookup {
  /** The executable, or `undefined` when none was found. */
  path: string | undefined;
  /** Each place looked at without success, and what was there. */
  looked: string[];
}

/**
 * Whether `path` is known not to be a file (`false` when it is one or cannot be checked).
 *
 * @param path The path.
 * @returns Whether it is known to be missing.
 */
export function isMissingFile(path: string): boolean {
  try {
    if (isDeno) return !Deno.statSync(path).isFile;
    return !nodeModule<{ statSync(p: string): { isFile(): boolean } }>("node:fs").statSync(path)
      .isFile();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return isDeno ? error instanceof Deno.errors.NotFound : code === "ENOENT" || code === "ENOTDIR";
  }
}

/**
 * Finds a command as a child process would be started with it: a name with a
 * slash is a path (relative to `dir`), any other is looked up on `PATH`. When
 * existence cannot be checked (no read or env permission on Deno), the
 * command is returned as given.
 *
 * @param command A path or a name.
 * @param dir The directory a relative path is relative to.
 * @returns Its path, or where it was looked for.
 */
export function findCommand(command: string, dir: string = cwd()): CommandLookup {
  const windows = (nodeProcess as { platform?: string } | undefined)?.platform === "win32";
  if (command.includes("/") || (windows && command.includes("\\"))) {
    const path = command.startsWith("/") || /^[a-z]:/i.test(command)
      ? command
      : `${dir}/${command}`;
    return isMissingFile(path)
      ? { path: undefined, looked: [`no such file "${command}"`] }
      : { path: command, looked: [] };
  }
  let pathEnv: string | undefined;
  try {
    pathEnv = env("PATH");
  } catch {
    return { path: command, looked: [] };
  }
  const dirs = (pathEnv ?? "").split(windows ? ";" : ":").filter((d) => d !== "");
  const names = windows ? [`${command}.exe`, command] : [command];
  for (const d of dirs) {
    for (const name of names) {
      const candidate = `${d}/${name}`;
      if (!isMissingFile(candidate)) return { path: candidate, looked: [] };
    }
  }
  const shown = dirs.join(windows ? ";" : ":") || "empty";
  return { path: undefined, looked: [`no "${command}" in PATH (${shown})`] };
}

/**
 * Finds the Deno executable to start runners with. On Deno: this one. Elsewhere:
 * `$DENO_BIN` if set, else `deno` on `PATH`, else the binary of the `deno` npm
 * package (a dependency of this package's npm build).
 *
 * @returns Its path, or every place looked at.
 */
export function findDeno(): CommandLookup {
  if (isDeno) return { path: Deno.execPath(), looked: [] };
  const fromEnv = env("DENO_BIN");
  if (fromEnv) {
    const found = findCommand(fromEnv);
    return found.path === undefined
      ? { path: undefined, looked: found.looked.map((l) => `DENO_BIN: ${l}`) }
      : found;
  }
  const looked = ["DENO_BIN: not set"];
  const onPath = findCommand("deno");
  if (onPath.path !== undefined) return onPath;
  looked.push(...onPath.looked);
  try {
    // The npm package's own resolver: its binary, copied from the platform package.
    const require = nodeModule<{ createRequire(from: string): (id: string) => unknown }>(
      "node:module",
    ).createRequire(import.meta.url);
    const install = require("deno/install_api.cjs") as { runInstall(): string };
    return { path: install.runInstall(), looked: [] };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    looked.push(
      code === "MODULE_NOT_FOUND" && /deno\/install_api/.test((error as Error).message)
        ? `the "deno" npm package: not installed (looked from ${
          new URL(".", import.meta.url).pathname
        })`
        : `the "deno" npm package: ${(error as Error).message.split("\n")[0]}`,
    );
  }
  return { path: undefined, looked };
}
