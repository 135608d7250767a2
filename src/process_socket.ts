/**
 * A byte stream over a child process: its stdin is written, its stdout read,
 * its stderr kept for error messages. This is how the Docker client reaches
 * an engine over SSH (`ssh … docker system dial-stdio`), as the docker CLI
 * does. Deno's `Deno.Command` or Node's `node:child_process`.
 *
 * @module
 */

import type * as NodeChildProcess from "node:child_process";
import { isDeno } from "./runtime.ts";
import type { ChildStatus } from "./runtime.ts";
import { closedError, NodeSocket, type Socket } from "./transport.ts";

let nodeChildProcess: Promise<typeof NodeChildProcess> | undefined;
const loadChildProcess = () => nodeChildProcess ??= import("node:child_process");

/** A byte stream over a child process: writes go to its stdin, reads come from its stdout. */
export interface ProcessSocket extends Socket {
  /** The child's pid. */
  readonly pid: number;
  /** Resolves once the child has exited and its stderr is read to the end. */
  readonly exited: Promise<ChildStatus>;
  /** The last 4 KiB the child wrote to stderr, decoded. */
  readonly stderr: string;
}

/**
 * The child behind a {@linkcode ProcessSocket} exited (other than by
 * `close()`) while the stream was in use: it ended with a non-zero code or
 * was killed by a signal. `stderr` holds the end of what it said.
 */
export class ProcessExitError extends Error {
  /** The command that was run. */
  readonly command: string;
  /** How it ended. */
  readonly status: ChildStatus;
  /** The last 4 KiB it wrote to stderr. */
  readonly stderr: string;

  /**
   * @param command The command that was run.
   * @param status How it ended.
   * @param stderr The end of its stderr.
   */
  constructor(command: string, status: ChildStatus, stderr: string) {
    const how = status.signal === null
      ? `exited with code ${status.code}`
      : `was killed by ${status.signal}`;
    const said = lastLines(stderr, 3);
    super(`"${command}" ${how}${said === "" ? " and said nothing on stderr" : `: ${said}`}`);
    this.name = "ProcessExitError";
    this.command = command;
    this.status = status;
    this.stderr = stderr;
  }
}

/**
 * The last `count` non-empty lines of `text`, joined with " / ".
 *
 * @param text Output of a process.
 * @param count How many lines.
 * @returns The lines, trimmed.
 */
export function lastLines(text: string, count: number): string {
  return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "")
    .slice(-count).join(" / ");
}

/** How much of a child's stderr is kept. */
const STDERR_TAIL = 4096;
/** How long a stream waits, at its end, for the child's exit status. */
const EXIT_WAIT = 2000;
/** How long a closed stream's child has to exit on SIGTERM before SIGKILL. */
const KILL_GRACE = 2000;

/**
 * Starts a child process and returns its stdin and stdout as one
 * {@linkcode Socket} (stderr is collected for error messages). `close()`
 * ends the child (SIGTERM, then SIGKILL after 2 s); await `exited` after it
 * to know the child is gone. When the child exits on its own with a
 * failure, the read or write in progress throws a
 * {@linkcode ProcessExitError}. An idle stream does not keep this process
 * alive (as an idle TCP connection does not).
 *
 * @param command The executable (looked up on `PATH`).
 * @param args Its arguments.
 * @returns The stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectProcess } from "./process_socket.ts";
 *
 * const cat = await connectProcess("cat", []);
 * await cat.write(new TextEncoder().encode("hi"));
 * const buf = new Uint8Array(8);
 * const n = await cat.read(buf);
 * assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "hi");
 * cat.close();
 * await cat.exited;
 * ```
 */
export async function connectProcess(
  command: string,
  args: readonly string[],
): Promise<ProcessSocket> {
  const tail = new StderrTail();
  const child = isDeno
    ? denoChild(command, args, (chunk) => tail.push(chunk))
    : await nodeChild(command, args, (chunk) => tail.push(chunk));
  return new ChildSocket(command.replace(/^.*\//, ""), child, tail);
}

class StderrTail {
  #chunks: Uint8Array[] = [];
  #size = 0;

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk.slice());
    this.#size += chunk.length;
    while (this.#size - this.#chunks[0]!.length >= STDERR_TAIL) {
      this.#size -= this.#chunks.shift()!.length;
    }
  }

  text(): string {
    const all = new Uint8Array(this.#size);
    let at = 0;
    for (const chunk of this.#chunks) {
      all.set(chunk, at);
      at += chunk.length;
    }
    return new TextDecoder().decode(all.subarray(Math.max(0, all.length - STDERR_TAIL)));
  }
}

/** What {@linkcode ChildSocket} needs of a child, on either runtime. */
interface ChildPipes {
  pid: number;
  /** Reads its stdout, writes its stdin. */
  stdio: Socket;
  /** Resolves once it exited and its stderr is drained. */
  status: Promise<ChildStatus>;
  /** Sends it a signal, unless it already exited. */
  kill(signal: "SIGTERM" | "SIGKILL"): void;
  /** Lets it keep this process alive (while a read or write waits) or not. */
  hold(held: boolean): void;
}

class ChildSocket implements ProcessSocket {
  readonly pid: number;
  readonly exited: Promise<ChildStatus>;
  #command: string;
  #child: ChildPipes;
  #tail: StderrTail;
  #closed = false;
  #busy = 0;

  constructor(command: string, child: ChildPipes, tail: StderrTail) {
    this.#command = command;
    this.#child = child;
    this.#tail = tail;
    this.pid = child.pid;
    this.exited = child.status;
  }

  get stderr(): string {
    return this.#tail.text();
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return null;
    this.#hold(1);
    try {
      const n = await this.#child.stdio.read(p);
      if (n !== null || this.#closed) return n;
    } catch (error) {
      if (this.#closed) return null;
      throw await this.#exitError() ?? error;
    } finally {
      this.#hold(-1);
    }
    const exit = await this.#exitError();
    if (exit !== undefined) throw exit;
    return null;
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.#closed) throw closedError();
    this.#hold(1);
    try {
      return await this.#child.stdio.write(p);
    } catch (error) {
      throw (this.#closed ? undefined : await this.#exitError()) ?? error;
    } finally {
      this.#hold(-1);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#child.stdio.close();
    // Until it is gone the child keeps this process alive, so `exited` can be awaited.
    this.#child.hold(true);
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), KILL_GRACE);
    this.exited.then(() => clearTimeout(timer));
  }

  #hold(delta: 1 | -1): void {
    if (this.#closed) return;
    this.#busy += delta;
    if (this.#busy === (delta === 1 ? 1 : 0)) this.#child.hold(delta === 1);
  }

  /** The child's failure, once its output ended; `undefined` when it exited 0 (or is still running). */
  async #exitError(): Promise<ProcessExitError | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      this.exited,
      new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), EXIT_WAIT)),
    ]);
    clearTimeout(timer);
    if (status === undefined || (status.code === 0 && status.signal === null)) return undefined;
    return new ProcessExitError(this.#command, status, this.#tail.text());
  }
}

/** `read()`/`write()` over a Web Streams pair (a Deno child's stdout and stdin). */
class StreamSocket implements Socket {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #rest: Uint8Array | undefined;

  constructor(readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>) {
    this.#reader = readable.getReader();
    this.#writer = writable.getWriter();
  }

  async read(p: Uint8Array): Promise<number | null> {
    let chunk = this.#rest;
    while (chunk === undefined || chunk.length === 0) {
      const { done, value } = await this.#reader.read();
      if (done) return null;
      chunk = value;
    }
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    this.#rest = n < chunk.length ? chunk.subarray(n) : undefined;
    return n;
  }

  async write(p: Uint8Array): Promise<number> {
    await this.#writer.write(p);
    return p.length;
  }

  close(): void {
    this.#reader.cancel().catch(() => {});
    this.#writer.abort().catch(() => {});
  }
}

function denoChild(
  command: string,
  args: readonly string[],
  onStderr: (chunk: Uint8Array) => void,
): ChildPipes {
  const child = new Deno.Command(command, {
    args: [...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  child.unref();
  const drained = (async () => {
    for await (const chunk of child.stderr) onStderr(chunk);
  })().catch(() => {});
  return {
    pid: child.pid,
    stdio: new StreamSocket(child.stdout, child.stdin),
    status: Promise.all([child.status, drained]).then(([s]) => ({
      code: s.signal === null ? s.code : null,
      signal: s.signal,
    })),
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
    },
    hold: (held) => held ? child.ref() : child.unref(),
  };
}

async function nodeChild(
  command: string,
  args: readonly string[],
  onStderr: (chunk: Uint8Array) => void,
): Promise<ChildPipes> {
  const cp = await loadChildProcess();
  const child = cp.spawn(command, [...args], { stdio: ["pipe", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      child.removeListener("spawn", onSpawn);
      reject(err);
    };
    const onSpawn = () => {
      child.removeListener("error", onError);
      resolve();
    };
    child.once("error", onError);
    child.once("spawn", onSpawn);
  });
  const { stdin, stdout, stderr } = child as NodeChildProcess.ChildProcessWithoutNullStreams;
  // A failed kill() is an "error" event; the stream's own errors reach NodeSocket.
  child.on("error", () => {});
  stderr.on("error", () => {});
  stderr.on("data", onStderr);
  const status = new Promise<ChildStatus>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  const handles = [child, stdin, stdout, stderr] as unknown as { ref(): void; unref(): void }[];
  const hold = (held: boolean) => {
    for (const handle of handles) held ? handle.ref() : handle.unref();
  };
  hold(false);
  return {
    pid: child.pid ?? 0,
    stdio: new NodeSocket(stdout, stdin, () => {
      stdin.destroy();
      stdout.destroy();
    }),
    status,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    hold,
  };
}
