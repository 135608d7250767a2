/**
 * Graceful shutdown on a signal: `docker stop`, Kubernetes and Ctrl-C send
 * SIGTERM or SIGINT, and a parent that dies at once drops its in-flight calls
 * and leaves its runners to find out on their own. {@linkcode closeOnSignals}
 * closes the pool instead (in-flight calls finish within `shutdownTimeout`,
 * runners are stopped and removed), then exits; on Deno and Node.js.
 *
 * @module
 */

import { isDeno } from "../runtime.ts";

/** What {@linkcode closeOnSignals} closes: a `Pool`, or anything with the same `close()`. */
export interface Closable {
  /** Closes gracefully; resolves once done. */
  close(): Promise<void>;
}

/** Options for {@linkcode closeOnSignals}. */
export interface CloseOnSignalsOptions {
  /**
   * The signals that close the pools (one a platform cannot listen for is skipped).
   *
   * @default {["SIGTERM", "SIGINT"]}
   */
  signals?: readonly string[];
  /**
   * Whether the process exits once the pools are closed: with code 0, or 1
   * when a close failed. A second signal during the close exits at once
   * (code 128 + the signal's number). With `false` the process goes on
   * (and exits by itself when nothing else keeps it).
   *
   * @default {true}
   */
  exit?: boolean;
  /**
   * Called first when a signal arrives, for the rest of the shutdown (stop
   * taking work: close the HTTP server). A throw is reported on stderr and the
   * pools close all the same.
   */
  onSignal?: (signal: string) => void;
}

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
};

interface NodeProcess {
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
  exit(code: number): never;
}

const nodeProcess = (globalThis as unknown as { process?: NodeProcess }).process;

/** Listens for `signal`; returns how to stop, or `undefined` when this platform cannot. */
function listen(signal: string, listener: () => void): (() => void) | undefined {
  try {
    if (isDeno) {
      Deno.addSignalListener(signal as Deno.Signal, listener);
      return () => Deno.removeSignalListener(signal as Deno.Signal, listener);
    }
    if (nodeProcess === undefined) return undefined;
    nodeProcess.on(signal, listener);
    return () => nodeProcess.off(signal, listener);
  } catch {
    // Windows has no SIGTERM listener, for one.
    return undefined;
  }
}

function exitProcess(code: number): void {
  if (isDeno) Deno.exit(code);
  else nodeProcess?.exit(code);
}

/**
 * Closes `pools` gracefully when the process gets SIGTERM or SIGINT (`docker
 * stop`, Kubernetes, Ctrl-C), then exits: in-flight calls get the pool's
 * `shutdownTimeout` to finish, new ones are refused, runners are stopped and
 * removed. Set `shutdownTimeout` below the time the platform waits before it
 * kills the process (`docker stop`: 10 s, `-t` to change it; Kubernetes:
 * `terminationGracePeriodSeconds`, 30 s), less the runners' own stop
 * (`stopTimeout`). Opt-in: without it, a signal ends the process as usual.
 *
 * @param pools The pool, or pools (closed together).
 * @param options Signals, whether to exit, and a hook.
 * @returns A disposer: stops listening (also usable with `using`).
 *
 * @example One line in a service's entry point
 * ```ts
 * import { closeOnSignals, Pool, ProcessBackend } from "@flame/docker";
 *
 * const pool = new Pool({ backend: new ProcessBackend(), max: 4, shutdownTimeout: 8_000 });
 * const stopListening = closeOnSignals(pool);
 * // … serve requests with pool.call() …
 * stopListening();
 * await pool.close();
 * ```
 *
 * @example Stopping the app's own work first, and exiting by itself
 * ```ts
 * import { closeOnSignals, LocalBackend, Pool } from "@flame/docker";
 *
 * await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
 * const accepting = new AbortController(); // what the app's server listens to
 * using _signals = closeOnSignals(pool, { exit: false, onSignal: () => accepting.abort() });
 * ```
 */
export function closeOnSignals(
  pools: Closable | readonly Closable[],
  options: CloseOnSignalsOptions = {},
): (() => void) & Disposable {
  const all = Array.isArray(pools) ? pools as readonly Closable[] : [pools as Closable];
  const exit = options.exit ?? true;
  const stops: (() => void)[] = [];
  let closing: Promise<void> | undefined;
  const onSignal = (signal: string) => {
    if (closing !== undefined) {
      if (exit) exitProcess(128 + (SIGNAL_NUMBERS[signal] ?? 0));
      return;
    }
    try {
      options.onSignal?.(signal);
    } catch (err) {
      console.error(`closeOnSignals: onSignal threw: ${(err as Error)?.message ?? err}`);
    }
    closing = Promise.allSettled(all.map((pool) => pool.close())).then((outcomes) => {
      const failed = outcomes.filter((o) => o.status === "rejected");
      for (const f of failed) {
        console.error(`closeOnSignals: cannot close a pool: ${f.reason?.message ?? f.reason}`);
      }
      if (!exit) {
        dispose();
        return;
      }
      exitProcess(failed.length > 0 ? 1 : 0);
    });
  };
  for (const signal of options.signals ?? ["SIGTERM", "SIGINT"]) {
    const stop = listen(signal, () => onSignal(signal));
    if (stop !== undefined) stops.push(stop);
  }
  const dispose = () => {
    for (const stop of stops.splice(0)) stop();
  };
  return Object.assign(dispose, { [Symbol.dispose]: dispose });
}
