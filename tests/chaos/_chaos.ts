/**
 * Helpers for the chaos tests: a labelled internal network per test file,
 * container queries, a backend wrapper that records every runner secret, a
 * secret-leak check over logs, errors and stats, and a unix-socket proxy in
 * front of the Docker engine that records requests and can be stopped and
 * restarted (an engine outage without touching the real engine).
 */

import assert from "node:assert/strict";
import {
  type Backend,
  type BootSpec,
  DockerBackend,
  type DockerBackendOptions,
  type Logger,
  type ParentAddress,
  type RunnerHandle,
} from "../../mod.ts";
import { decodeParentEnv } from "../../src/protocol/parent_env.ts";
import { containersOfPool, docker, DOCKER_SOCKET, TEST_IMAGE } from "../_helpers/docker.ts";
import { sleep } from "../_helpers/backends.ts";

/** Containers of ours for a pool, in every state (running, paused, exited, dead). */
export const containersOf = containersOfPool;

/**
 * Waits (polling every 100 ms, bounded) until a pool has no container left.
 *
 * @returns Milliseconds waited, or -1 when some remained after `budgetMs`.
 */
export async function waitNoContainers(pool: string, budgetMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < budgetMs) {
    if ((await containersOf(pool)).length === 0) return Date.now() - started;
    await sleep(100);
  }
  return (await containersOf(pool)).length === 0 ? Date.now() - started : -1;
}

/** Force-removes whatever a pool left (unpausing first); returns what was found. */
export async function removeContainers(pool: string): Promise<string[]> {
  const left = await containersOf(pool);
  for (const id of left) await docker("unpause", id).catch(() => {});
  if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
  return left;
}

/** A logger that keeps every line (with its arguments stringified). */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (msg: string, ...args: unknown[]) => {
    lines.push(`${level} ${[msg, ...args.map((a) => describe(a))].join(" ")}`);
  };
  return {
    lines,
    logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
  };
}

function describe(value: unknown): string {
  if (value instanceof Error) return errorText(value);
  try {
    return typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Name, message and stack of an error and of its cause chain (bounded). */
export function errorText(err: unknown, depth = 0): string {
  if (depth > 8) return "";
  if (!(err instanceof Error)) return String(err);
  let text = `${err.name}: ${err.message}\n${err.stack ?? ""}`;
  const extra = err as Error & { remoteStack?: string; attempts?: unknown };
  if (extra.remoteStack) text += `\n${extra.remoteStack}`;
  if (extra.attempts) text += `\n${JSON.stringify(extra.attempts)}`;
  if (err.cause !== undefined) text += `\ncause: ${errorText(err.cause, depth + 1)}`;
  if (err instanceof AggregateError) {
    for (const e of err.errors) text += `\n${errorText(e, depth + 1)}`;
  }
  return text;
}

/**
 * A DockerBackend wrapper that records each runner's secret (from the
 * `FLAME_PARENT` the pool hands it), so a test can prove it never leaks.
 */
export class WatchedDockerBackend implements Backend {
  readonly name = "docker";
  readonly inner: DockerBackend;
  /** Every runner secret, and the whole FLAME_PARENT values that carry them. */
  readonly secrets: string[] = [];
  /** Runner id → container id, for every boot that got a container. */
  readonly containers = new Map<string, string>();
  /** The backend's own log. */
  readonly log: { logger: Logger; lines: string[] } = captureLogger();

  constructor(options: DockerBackendOptions) {
    this.inner = new DockerBackend({ image: TEST_IMAGE, ...options, logger: this.log.logger });
  }

  prepare(): Promise<ParentAddress> {
    return this.inner.prepare();
  }

  async boot(spec: BootSpec): Promise<RunnerHandle> {
    this.secrets.push(decodeParentEnv(spec.parentEnv).secret, spec.parentEnv);
    const handle = await this.inner.boot(spec);
    const container = this.inner.containerOf(spec.id);
    if (container !== undefined) this.containers.set(spec.id, container);
    return handle;
  }

  stop(handle: RunnerHandle): Promise<void> {
    return this.inner.stop(handle);
  }

  reap(): Promise<number> {
    return this.inner.reap();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Kills a runner's container through the API. */
  kill(runnerId: string): boolean {
    return this.inner.kill(runnerId);
  }
}

/**
 * Asserts that no secret occurs in any log line, error (message, stack,
 * causes) or stats snapshot; prints how much was checked.
 */
export function assertNoSecretLeak(
  what: string,
  secrets: readonly string[],
  sources: { logs: readonly string[]; errors: readonly unknown[]; stats: readonly unknown[] },
): void {
  assert.ok(secrets.length > 0, `${what}: no secret was recorded, so nothing was checked`);
  const texts = [
    ...sources.logs,
    ...sources.errors.map((e) => errorText(e)),
    ...sources.stats.map((s) => JSON.stringify(s)),
  ];
  for (const secret of secrets) {
    for (const text of texts) {
      assert.ok(
        !text.includes(secret),
        `${what}: a runner secret appears in: ${text.slice(0, 300)}`,
      );
    }
  }
  console.log(
    `  ${what}: ${
      secrets.length / 2
    } runner secrets absent from ${sources.logs.length} log lines, ${sources.errors.length} errors, ${sources.stats.length} stats snapshots`,
  );
}

/** One HTTP request seen by {@linkcode EngineProxy}. */
export interface SeenRequest {
  method: string;
  path: string;
}

/**
 * A unix-socket proxy to the Docker engine. It records the method and target
 * of every request, and can be stopped (connections dropped, nothing
 * listening: the engine is unreachable) and started again on the same path.
 */
export class EngineProxy {
  readonly path: string;
  readonly requests: SeenRequest[] = [];
  #dir: string;
  #listener: Deno.Listener | undefined;
  #accepting: Promise<void> | undefined;
  #conns = new Set<Deno.Conn>();
  #tasks = new Set<Promise<void>>();

  private constructor(dir: string) {
    this.#dir = dir;
    this.path = `${dir}/docker.sock`;
  }

  /** Starts a proxy in a fresh temporary directory. */
  static async start(): Promise<EngineProxy> {
    const proxy = new EngineProxy(await Deno.makeTempDir({ prefix: "flame-chaos-proxy-" }));
    proxy.resume();
    return proxy;
  }

  /** Whether it is listening. */
  get running(): boolean {
    return this.#listener !== undefined;
  }

  /** Listens again after {@linkcode EngineProxy.halt}. */
  resume(): void {
    if (this.#listener) return;
    try {
      Deno.removeSync(this.path);
    } catch {
      // Not there.
    }
    const listener = Deno.listen({ transport: "unix", path: this.path });
    this.#listener = listener;
    this.#accepting = (async () => {
      try {
        for await (const conn of listener) this.#track(this.#serve(conn));
      } catch {
        // Listener closed.
      }
    })();
  }

  /** Stops listening and drops every connection (the socket file stays: connects are refused). */
  async halt(): Promise<void> {
    const listener = this.#listener;
    if (!listener) return;
    this.#listener = undefined;
    listener.close();
    await this.#accepting;
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
    this.#conns.clear();
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  /** Halts and removes the directory. */
  async close(): Promise<void> {
    await this.halt();
    await Deno.remove(this.#dir, { recursive: true });
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  #open(conn: Deno.Conn): void {
    this.#conns.add(conn);
  }

  #shut(conn: Deno.Conn): void {
    if (!this.#conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }

  async #serve(client: Deno.Conn): Promise<void> {
    this.#open(client);
    let engine: Deno.Conn;
    try {
      engine = await Deno.connect({ transport: "unix", path: DOCKER_SOCKET });
    } catch {
      this.#shut(client);
      return;
    }
    this.#open(engine);
    const upstream = this.#pump(client, engine, true);
    const downstream = this.#pump(engine, client, false);
    await Promise.allSettled([upstream, downstream]);
    this.#shut(client);
    this.#shut(engine);
  }

  /** Copies `from` → `to`; on the request side, records each request's line. */
  async #pump(from: Deno.Conn, to: Deno.Conn, requests: boolean): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    const parser = requests ? new RequestLineParser(this.requests) : undefined;
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        const chunk = buf.subarray(0, n);
        parser?.push(chunk);
        for (let written = 0; written < n;) written += await to.write(chunk.subarray(written));
      }
    } catch {
      // One side went away.
    } finally {
      // Either direction ending ends the exchange (the client only half-closes by closing).
      this.#shut(from);
      this.#shut(to);
    }
  }
}

/** Finds request lines in a client→engine byte stream (Content-Length bodies only, as our client sends). */
class RequestLineParser {
  #out: SeenRequest[];
  #head = "";
  #skip = 0;

  constructor(out: SeenRequest[]) {
    this.#out = out;
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, chunk.length - i);
        this.#skip -= take;
        i += take;
        continue;
      }
      const byte = chunk[i++]!;
      this.#head += String.fromCharCode(byte);
      if (!this.#head.endsWith("\r\n\r\n")) continue;
      const lines = this.#head.split("\r\n");
      const [method = "", path = ""] = lines[0]!.split(" ");
      this.#out.push({ method, path });
      const length = lines.find((l) => /^content-length:/i.test(l));
      this.#skip = length ? Number(length.split(":")[1]!.trim()) : 0;
      this.#head = "";
    }
  }
}
