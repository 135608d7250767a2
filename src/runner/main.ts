/**
 * The runner's life: connect back to the parent before the boot deadline,
 * authenticate, execute calls until the Terminator says stop.
 *
 * This thread keeps the link, the heartbeats, the Terminator and the call
 * deadlines; the calls run on call workers (see `worker_pool.ts`), one per CPU
 * the process is given (see `cpu_quota.ts`), so none of that waits on user
 * code: a call that never yields is stopped at its timeout, and a runner busy
 * computing still answers heartbeats and exits when its parent goes.
 *
 * @module
 */

import type { Timer } from "../util/timer.ts";
import { connectTcp, type Socket } from "../transport.ts";
import { FrameConnection } from "../protocol/connection.ts";
import type { Frame } from "../protocol/frame.ts";
import {
  authenticateToParent,
  HANDSHAKE_MAX_PAYLOAD,
  HandshakeClosedError,
  importSecret,
} from "../protocol/handshake.ts";
import { decodeCall, decodeId, FrameType, LINK_MAX_PAYLOAD } from "../protocol/messages.ts";
import { decodeParentEnv, type ParentEnv } from "../protocol/parent_env.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import { Executor } from "./executor.ts";
import { type ExitReason, MAX_TIMER_DELAY, Terminator } from "./terminator.ts";
import { withResolvers } from "../util/promise.ts";
import { workerCodeReadable, WorkerPool } from "./worker_pool.ts";
import { availableCpus } from "./cpu_quota.ts";
import { CODE_LIMIT, codeDirFor, CodeStore, removeCodeDir } from "./code_store.ts";

/** The latest a runner starts its timers after authenticating (ms); usually it is sooner. */
const START_TIMERS_WITHIN = 100;

/** Largest frame payload on an authenticated link (1 GiB). */
export const MAX_PAYLOAD = LINK_MAX_PAYLOAD;

/** How a runner ended. */
export interface RunnerExit {
  /** Process exit code: 0 for a normal end, non-zero for a failure. */
  code: number;
  /** What happened, for logs. */
  reason: ExitReason | "connect-failed" | "auth-failed" | "invalid-env";
  /** Details (never the secret). */
  message: string;
}

/** Options for {@linkcode runRunner}. */
export interface RunRunnerOptions {
  /** Where runner logs go. @default silent */
  logger?: Logger;
  /** Aborting it stops the runner (in-process runners). */
  signal?: AbortSignal;
  /**
   * Call workers: how many Web Workers run the calls. `0` runs them on the
   * link's own thread (no worker hop, but a call that never yields then blocks
   * the heartbeats and cannot be stopped). Overridden by `FLAME_PARENT`'s
   * `workers` when the pool sets it.
   *
   * @default {the CPUs the process is given (cgroup quota, else `navigator.hardwareConcurrency`); 0 where there are no Web Workers}
   */
  workers?: number;
}

/** What runs the calls of a link: call workers, or this thread. */
interface Calls {
  readonly busy: number;
  start(payload: Uint8Array, shared: boolean): void;
  cancel(id: number, reason: unknown): void;
  grant(id: number, n: number): void;
  startTimers(): void;
  cancelAll(reason: unknown): void;
  close(): void;
}

/** How many call workers a runner starts. */
function workerCount(env: ParentEnv, options: RunRunnerOptions, log: Logger): number {
  if (typeof Worker === "undefined") return 0;
  const count = env.workers ?? options.workers ?? availableCpus();
  if (count > 0 && !workerCodeReadable()) {
    log.warn(
      `runner ${env.id}: calls run on the main thread, so a call that never yields cannot be ` +
        `stopped: call workers cannot read their code (grant --allow-read=${
          decodeURIComponent(new URL("..", import.meta.url).pathname)
        }, or set FLAME_RUNNER_WORKERS=0 to say this is meant)`,
    );
    return 0;
  }
  return count;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function connectBefore(env: ParentEnv, deadline: number, signal?: AbortSignal) {
  let delay = 25;
  let lastError: unknown;
  while (Date.now() < deadline && !signal?.aborted) {
    try {
      return await connectTcp(env.host, env.port);
    } catch (err) {
      lastError = err;
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
      delay = Math.min(delay * 2, 500);
    }
  }
  throw lastError ?? new Error("Stopped before connecting");
}

/**
 * `p`, or a rejection after `ms` (then `onTimeout` runs first). On
 * `AbortSignal.timeout`, not `setTimeout`: a process's first `setTimeout`
 * costs ≈ 15–25 ms (see `Terminator.start`). The signal cannot be cleared:
 * once `p` settles its listener is removed and the signal fires later into
 * nothing. It does not keep the process alive; every caller waits on socket
 * I/O that does. A deadline past what a timer holds (24.8 days) is capped there.
 */
function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  const signal = AbortSignal.timeout(Math.min(Math.max(0, ms), MAX_TIMER_DELAY));
  const { promise, resolve, reject } = withResolvers<T>();
  const onAbort = () => {
    onTimeout();
    reject(new Error(`Timed out after ${ms} ms`));
  };
  signal.addEventListener("abort", onAbort, { once: true });
  p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  return promise;
}

/**
 * Runs a runner until it must exit.
 *
 * @param parentEnv The `FLAME_PARENT` value.
 * @param options Logger and stop signal.
 * @returns How it ended; `runner.ts` exits the process with `code`.
 *
 * @example
 * ```ts
 * import { runRunner } from "./main.ts";
 * const exit = await runRunner("");
 * console.assert(exit.code !== 0 && exit.reason === "invalid-env");
 * ```
 */
export async function runRunner(
  parentEnv: string,
  options: RunRunnerOptions = {},
): Promise<RunnerExit> {
  const log = options.logger ?? silentLogger;
  let env: ParentEnv;
  try {
    env = decodeParentEnv(parentEnv);
  } catch (err) {
    return { code: 2, reason: "invalid-env", message: (err as Error).message };
  }
  const started = Date.now();
  const deadline = started + env.connectTimeout;
  // The first worker boots while the runner connects and authenticates.
  const count = workerCount(env, options, log);
  const workers = count > 0 ? new WorkerPool({ runnerId: env.id, workers: count, log }) : undefined;
  try {
    return await connectAndServe(env, options, log, started, deadline, workers);
  } finally {
    workers?.close();
    removeCodeDir(env.id);
  }
}

async function connectAndServe(
  env: ParentEnv,
  options: RunRunnerOptions,
  log: Logger,
  started: number,
  deadline: number,
  workers: WorkerPool | undefined,
): Promise<RunnerExit> {
  const key = await importSecret(env.secret);
  let conn: FrameConnection | undefined;
  let connectedAt = 0;
  let retryDelay = 25;
  while (conn === undefined) {
    let socket: Socket;
    try {
      socket = await connectBefore(env, deadline, options.signal);
      connectedAt = Date.now();
    } catch (err) {
      return {
        code: 3,
        reason: "connect-failed",
        message:
          `Cannot connect to parent ${env.host}:${env.port} within ${env.connectTimeout} ms: ${
            (err as Error).message
          }`,
      };
    }
    const attempt = new FrameConnection(socket, { maxPayload: HANDSHAKE_MAX_PAYLOAD });
    try {
      await withDeadline(
        authenticateToParent(attempt, env.id, key),
        deadline - Date.now(),
        () => attempt.close(),
      );
      conn = attempt;
    } catch (err) {
      attempt.close();
      // A parent under a flood evicts waiting connections: dial again while time is left.
      if (
        err instanceof HandshakeClosedError && !options.signal?.aborted &&
        Date.now() + retryDelay < deadline
      ) {
        log.debug(`runner ${env.id}: ${err.message}; retrying`);
        await sleep(retryDelay);
        retryDelay = Math.min(retryDelay * 2, 500);
        continue;
      }
      return {
        code: 4,
        reason: "auth-failed",
        message: `Cannot authenticate: ${(err as Error).message}`,
      };
    }
  }
  conn.maxPayload = MAX_PAYLOAD;
  // Boot phases as wall-clock epoch milliseconds (the bench reads this line to
  // split a cold start): process start, runner code running, TCP connected,
  // authenticated. Computed from values at hand; printed only at info level.
  log.info(
    `runner ${env.id}: connected to ${env.host}:${env.port} in ${Date.now() - started} ms; ` +
      `boot-phases process=${Math.round(performance.timeOrigin)} main=${started} ` +
      `connected=${connectedAt} authenticated=${Date.now()}; ` +
      `${workers === undefined ? "calls on the main thread" : `${workers.size} call workers`}`,
  );
  return await serve(conn, env, log, options.signal, workers);
}

/** Runs calls on this thread (no call workers). */
class InlineCalls implements Calls {
  #executor: Executor;

  constructor(conn: FrameConnection, runnerId: string, onBusyChange: (busy: number) => void) {
    this.#executor = new Executor({ sink: conn, runnerId, onBusyChange });
  }

  get busy(): number {
    return this.#executor.busy;
  }

  start(payload: Uint8Array, shared: boolean): void {
    this.#executor.start(decodeCall(payload, shared));
  }

  cancel(id: number, reason: unknown): void {
    this.#executor.cancel(id, reason);
  }

  grant(id: number, n: number): void {
    this.#executor.grant(id, n);
  }

  startTimers(): void {
    this.#executor.startTimers();
  }

  cancelAll(reason: unknown): void {
    this.#executor.cancelAll(reason);
  }

  close(): void {}
}

function serve(
  conn: FrameConnection,
  env: ParentEnv,
  log: Logger,
  signal: AbortSignal | undefined,
  workers: WorkerPool | undefined,
): Promise<RunnerExit> {
  const { promise, resolve } = withResolvers<RunnerExit>();
  let graceTimer: Timer | undefined;
  let shuttingDown = false;
  const finish = (reason: ExitReason) => {
    clearTimeout(graceTimer);
    signal?.removeEventListener("abort", onAbort);
    executor.cancelAll(new DOMException(`Runner exiting: ${reason}`, "AbortError"));
    // Deliver what is queued, but a parent that stopped reading (frozen, partitioned)
    // would block the write forever: give up after a heartbeat timeout, or at once
    // when the parent is already known to be silent.
    const flushWait = reason === "heartbeat-timeout" ? 0 : env.heartbeatTimeout;
    withDeadline(conn.flushed(), flushWait, () => {}).catch(() => {}).finally(() => {
      conn.close();
      executor.close();
      log.info(`runner ${env.id}: exiting (${reason})`);
      resolve({ code: 0, reason, message: reason });
    });
  };
  const terminator = new Terminator({
    heartbeatInterval: env.heartbeatInterval,
    heartbeatTimeout: env.heartbeatTimeout,
    idleTimeout: env.idleTimeout,
    sendHeartbeat: () => conn.send(FrameType.Ping),
    onExit: finish,
  });
  const onBusyChange = (busy: number) => {
    terminator.busyChanged(busy);
    // Calls answered from a worker leave after the read that brought them.
    if (busy === 0 && !timersStarted) conn.flushed().then(startTimers);
    if (busy === 0 && shuttingDown) terminator.exit("shutdown");
  };
  let executor: Calls;
  if (workers === undefined) {
    executor = new InlineCalls(conn, env.id, onBusyChange);
  } else {
    workers.attach({ sink: conn, onBusyChange });
    executor = workers;
  }
  const onAbort = () => terminator.exit("stopped");
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();

  // Heartbeat, idle and call timers start once the first answers have left
  // (a process's first timer costs ≈ 15–25 ms: see `Terminator.start`), or
  // shortly after authentication if no frame comes. Both are timed from now.
  let timersStarted = false;
  const startTimers = () => {
    if (timersStarted) return;
    timersStarted = true;
    terminator.start();
    executor.startTimers();
  };
  AbortSignal.timeout(Math.min(START_TIMERS_WITHIN, env.heartbeatInterval))
    .addEventListener("abort", startTimers, { once: true });
  const onRead = () => {
    terminator.heard();
    // Once what this read started is answered (at once when it ran here).
    if (!timersStarted && executor.busy === 0) conn.flushed().then(startTimers);
  };

  // Code sync: artifacts arrive only on this authenticated link.
  const code = new CodeStore(codeDirFor(env.id), CODE_LIMIT);
  // Frames after a `CodeEnd` wait, in order, until its artifact is verified
  // and stored (a call naming it must find it).
  let storing = false;
  let held: Frame[] = [];
  const handle = (frame: Frame) => {
    if (storing) {
      held.push({ type: frame.type, payload: frame.payload.slice(), shared: false });
    } else if (frame.type === FrameType.CodeEnd) {
      storing = true;
      code.end().catch((err) => {
        log.error(`runner ${env.id}: cannot store a code artifact: ${(err as Error).message}`);
      }).then(() => {
        const frames = held;
        held = [];
        storing = false;
        try {
          // A later CodeEnd among them holds the rest again.
          for (const f of frames) handle(f);
        } catch (err) {
          log.error(`runner ${env.id}: a frame failed: ${(err as Error).message}`);
        }
      });
    } else {
      dispatch(frame);
    }
  };
  const dispatch = (frame: Frame) => {
    switch (frame.type) {
      case FrameType.Call:
        if (!shuttingDown) executor.start(frame.payload, frame.shared);
        break;
      case FrameType.Cancel:
        executor.cancel(
          decodeId(frame.payload)[0],
          new DOMException("The caller cancelled the call", "AbortError"),
        );
        break;
      case FrameType.StreamPull: {
        const [id, n] = decodeId(frame.payload);
        executor.grant(id, n);
        break;
      }
      case FrameType.CodeBegin:
        code.begin(frame.payload);
        break;
      case FrameType.CodeChunk:
        code.chunk(frame.payload);
        break;
      case FrameType.Ping:
        conn.send(FrameType.Pong);
        break;
      case FrameType.Pong:
        break;
      case FrameType.Shutdown: {
        shuttingDown = true;
        const [grace] = decodeId(frame.payload);
        if (executor.busy === 0) {
          terminator.exit("shutdown");
        } else {
          graceTimer = setTimeout(() => terminator.exit("shutdown"), grace);
        }
        break;
      }
      default:
        log.warn(`runner ${env.id}: ignoring unknown frame type ${frame.type}`);
    }
  };

  (async () => {
    try {
      // Everything one socket read delivered is handled in this tick, so the
      // answers to a batch of calls leave in one write.
      await conn.readEach(handle, onRead);
    } catch (err) {
      log.error(`runner ${env.id}: link failed: ${(err as Error).message}`);
    }
    terminator.exit("parent-closed");
  })();
  return promise;
}
