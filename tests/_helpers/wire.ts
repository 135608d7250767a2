/**
 * Helpers for the protocol and runner tests: a capturing logger, FLAME_PARENT
 * for a port, a bogus parent we script, and bounded waits.
 */

import type { Logger } from "../../src/util/logger.ts";
import {
  encodeParentEnv,
  type ParentEnv,
  PROTOCOL_VERSION,
} from "../../src/protocol/parent_env.ts";
import { authenticateRunner, generateSecret, importSecret } from "../../src/protocol/handshake.ts";
import { type RunnerExit, runRunner } from "../../src/runner/main.ts";
import { FrameConnection } from "../../src/protocol/connection.ts";
import type { Timer } from "../../src/util/timer.ts";

/** One captured log line. */
export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
}

/** A logger that keeps every line. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine["level"]) => (msg: string, ...args: unknown[]) => {
    lines.push({ level, message: [msg, ...args.map((a) => String(a))].join(" ") });
  };
  return {
    lines,
    logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
  };
}

/** Builds FLAME_PARENT for a runner dialing `127.0.0.1:port`. */
export function parentEnvFor(
  port: number,
  overrides: Partial<ParentEnv> = {},
): { env: ParentEnv; text: string } {
  const env: ParentEnv = {
    v: PROTOCOL_VERSION,
    host: "127.0.0.1",
    port,
    id: `test-${crypto.randomUUID().slice(0, 8)}`,
    secret: generateSecret(),
    connectTimeout: 5000,
    heartbeatInterval: 200,
    heartbeatTimeout: 1000,
    idleTimeout: null,
    ...overrides,
  };
  return { env, text: encodeParentEnv(env) };
}

/** A loopback listener that hands each connection to `handler`, which we script. */
export class BogusParent {
  #listener: Deno.TcpListener;
  #tasks: Promise<void>[] = [];
  #accepting: Promise<void>;
  #conns = new Set<FrameConnection>();

  constructor(handler: (conn: FrameConnection) => Promise<void>) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.#accepting = (async () => {
      for await (const socket of listener) {
        const conn = new FrameConnection(socket, { maxPayload: 1 << 20 });
        this.#conns.add(conn);
        this.#tasks.push(
          handler(conn).catch(() => {}).finally(() => {
            conn.close();
            this.#conns.delete(conn);
          }),
        );
      }
    })().catch(() => {});
  }

  /** The port it listens on. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** Stops listening, closes every connection, waits for the handlers. */
  async close(): Promise<void> {
    this.#listener.close();
    for (const conn of this.#conns) conn.close();
    await this.#accepting;
    await Promise.all(this.#tasks);
  }
}

/** Resolves with `p`'s value, or `"timeout"` after `ms` (the timer is always cleared). */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: Timer | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a real runner against a bogus parent that authenticates it and then
 * hands the link to `afterAuth`. `runnerDone` resolves once the runner has
 * exited (or the bound passed), before the parent is closed: a handler that
 * must hold its connection open until then awaits it.
 *
 * @param overrides FLAME_PARENT fields (the secret is made here).
 * @param afterAuth Scripts the parent's side after the handshake.
 * @param ms How long the runner may run before the result is `"timeout"`.
 * @returns The runner's exit and how long it ran.
 */
export async function runAgainstParent(
  overrides: Partial<ParentEnv>,
  afterAuth: (conn: FrameConnection, runnerDone: Promise<void>) => Promise<void>,
  ms = 10_000,
): Promise<{ exit: RunnerExit | "timeout"; elapsed: number }> {
  const secret = generateSecret();
  const key = await importSecret(secret);
  const done = Promise.withResolvers<void>();
  const bogus = new BogusParent(async (conn) => {
    await authenticateRunner(conn, () => key);
    await afterAuth(conn, done.promise);
  });
  try {
    const started = Date.now();
    const exit = await within(
      runRunner(parentEnvFor(bogus.port, { ...overrides, secret }).text),
      ms,
    );
    return { exit, elapsed: Date.now() - started };
  } finally {
    done.resolve();
    await bogus.close();
  }
}
