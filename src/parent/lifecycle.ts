/**
 * A runner's life in the pool: the parent's port, booting (start, connect,
 * authenticate within `bootTimeout`), growing for waiting callers, replacing
 * runners to keep `min`, shrinking idle ones, stopping, and noticing the ones
 * that went away; and whether the pool keeps the process alive (only while a
 * call, a runner or a boot is under way).
 *
 * @module
 */

import type { Backend, RunnerHandle } from "../backends/backend.ts";
import { BootError } from "../errors.ts";
import { generateSecret } from "../protocol/handshake.ts";
import { encodeParentEnv, PROTOCOL_VERSION } from "../protocol/parent_env.ts";
import { unrefTimer } from "../runtime.ts";
import type { Timer } from "../util/timer.ts";
import type { PoolEmitter, ShrinkReason } from "./emitter.ts";
import type { PoolConfig } from "./options.ts";
import { ParentListener } from "./parent_listener.ts";
import type { Placement, Runner } from "./placement.ts";
import type { ScalingState } from "./scaling.ts";
import type { FlameAttributes, FlameEventName } from "../events.ts";
import { RunnerLink } from "./runner_link.ts";

/** Last lines of a runner's output kept to explain a failed boot. */
const BOOT_OUTPUT_LINES = 20;

/**
 * Milliseconds of `bootTimeout` kept to report a failed boot, so callers
 * waiting as long as `bootTimeout` (the default call `timeout` is equal) get
 * its `BootError`, not their own `TimeoutError`: the parent stops waiting for
 * the connection that much before the deadline, stops the runner and gives it
 * half of it to exit with its last words; the runner is told to give up
 * twice as early, so one that cannot reach the parent exits first, saying why.
 */
function reportReserve(bootTimeout: number): number {
  return Math.min(3000, bootTimeout / 5);
}

/** Milliseconds before the first boot retry; each later one doubles, up to {@linkcode BOOT_RETRY_MAX_MS}. */
const BOOT_RETRY_MS = 200;
const BOOT_RETRY_MAX_MS = 2000;
/** The most retries of one boot (a 5xx that is in fact permanent costs at most 1.4 s more). */
const BOOT_RETRIES = 3;

/** `p`'s value if it settles within `ms` (and before `signal` aborts), else `undefined`. */
async function settledWithin<T>(
  p: Promise<T>,
  ms: number,
  signal: AbortSignal,
): Promise<T | undefined> {
  let timer: Timer | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((r) => {
        onAbort = () => r(undefined);
        timer = setTimeout(onAbort, ms);
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
  }
}

/** What the lifecycle needs of its pool. */
export interface LifecycleHost {
  /** Whether the pool is closing (no more boots). */
  isClosing(): boolean;
  /** Capacity changed: serve waiting callers. */
  dispatch(): void;
  /** A boot failed: waiters that nothing else can serve get `error`. */
  bootFailed(error: BootError): void;
  /** Calls started and not yet settled. */
  pendingCalls(): number;
  /** Callers waiting for a slot. */
  queued(): number;
  /** Nothing runs, boots or waits any more: let go of the event loop. */
  idle(): void;
}

/** Boots, replaces, idles out and stops a pool's runners. */
export class RunnerLifecycle {
  /** Boots in progress. */
  booting = 0;
  /** Boots started and failed. */
  readonly counts = { boots: 0, bootFailures: 0 };
  readonly #config: PoolConfig;
  readonly #backend: Backend;
  readonly #placement: Placement;
  readonly #emitter: PoolEmitter;
  readonly #host: LifecycleHost;
  #boots = new Set<Promise<void>>();
  /** Gives up on a boot under way (the pool is closing). */
  #bootAborts = new Set<() => void>();
  #stops = new Set<Promise<void>>();
  #listener: Promise<{ listener: ParentListener; dialHost: string }> | undefined;
  /** The parent's port once open. */
  #openListener: ParentListener | undefined;
  /**
   * Whether the pool keeps the process alive: while a call, a runner or a
   * boot is under way. An idle pool does not (as an HTTP agent's idle
   * sockets do not), so a script that forgets `close()` still exits.
   */
  #holding = false;
  #reaping: Promise<void> | undefined;
  #replaceTimer: Timer | undefined;
  #consecutiveBootFailures = 0;
  /** The scaling policy has thrown (said once). */
  #policyThrew = false;

  constructor(
    config: PoolConfig,
    backend: Backend,
    placement: Placement,
    emitter: PoolEmitter,
    host: LifecycleHost,
  ) {
    this.#config = config;
    this.#backend = backend;
    this.#placement = placement;
    this.#emitter = emitter;
    this.#host = host;
  }

  /** Boots enough runners for `queued` waiting callers, within `max`. */
  grow(queued: number): void {
    if (this.#host.isClosing()) return;
    const perRunner = this.#placement.perRunner;
    let pending = this.booting * perRunner;
    while (queued > pending && this.#placement.runners.length + this.booting < this.#config.max) {
      this.#boot();
      pending += perRunner;
    }
  }

  /**
   * Runners the scaling policy wants now, within `min` and `max` (`min`
   * without a policy).
   */
  #wanted(): number {
    const config = this.#config;
    const policy = config.scaling;
    if (policy === undefined) return config.min;
    const placement = this.#placement;
    const state: ScalingState = {
      runners: placement.active(),
      booting: this.booting,
      busySlots: placement.busy,
      queued: this.#host.queued(),
      slotsPerRunner: placement.perRunner,
      min: config.min,
      max: config.max,
    };
    let want = config.min;
    try {
      const asked = policy(state);
      if (typeof asked === "number" && !Number.isNaN(asked)) want = Math.ceil(asked);
    } catch (err) {
      // Said once: the policy runs at every placement.
      if (!this.#policyThrew) {
        this.#policyThrew = true;
        this.#emitter.log.error(
          `pool ${config.name}: the scaling policy threw (${
            (err as Error)?.message ?? err
          }); until it returns a number the pool keeps min (${config.min}) runners ahead of demand`,
        );
      }
    }
    return Math.min(config.max, Math.max(config.min, want));
  }

  /** Boots ahead of demand what the scaling policy asks for (within `max`). */
  scale(): void {
    if (this.#host.isClosing()) return;
    const want = this.#wanted();
    while (this.#placement.active() + this.booting < want) this.#boot();
  }

  /**
   * `min`, `max` or `maxConcurrency` changed (`Pool.resize()`): boots to the
   * new `min`, retires runners over the new `max` (idle ones first, busy ones
   * finish their calls), and re-arms idle limits (a runner no longer counted
   * in `min` may now idle out).
   */
  resized(): void {
    if (this.#host.isClosing()) return;
    const placement = this.#placement;
    let excess = placement.active() + this.booting - this.#config.max;
    if (excess > 0) {
      const live = placement.runners.filter((r) => !r.stopping).sort((a, b) => a.busy - b.busy);
      for (const runner of live) {
        if (excess <= 0) break;
        if (runner.retiring !== undefined) continue;
        this.retire(runner, "resized");
        excess--;
      }
    }
    this.bootToMin();
    for (const runner of placement.runners) {
      if (!runner.stopping && runner.busy === 0) this.scheduleIdle(runner);
    }
  }

  /** Boots runners until `min` are up or booting. */
  bootToMin(): void {
    if (this.#host.isClosing()) return;
    while (this.#placement.runners.length + this.booting < this.#config.min) this.#boot();
  }

  #ensureListener(): Promise<{ listener: ParentListener; dialHost: string }> {
    this.#listener ??= (async () => {
      const address = await this.#backend.prepare();
      const listener = await ParentListener.open(address.listenHost, 0, {
        logger: this.#emitter.log,
        ...(address.acceptOn === undefined ? {} : { acceptOn: address.acceptOn }),
      });
      this.#openListener = listener;
      if (!this.#holding) listener.unref();
      this.#emitter.log.info(
        `pool ${this.#config.name}: listening for runners on ${listener.addr.hostname}:${listener.addr.port} (${this.#backend.name} backend)`,
      );
      this.#reapLeftovers();
      return { listener, dialHost: address.dialHost };
    })();
    // A failed prepare (engine down, network missing) is retried by the next boot.
    this.#listener.catch(() => this.#listener = undefined);
    return this.#listener;
  }

  /** Removes what earlier parents of this pool's name left behind (in the background). */
  #reapLeftovers(): void {
    this.#reaping = this.#backend.reap?.({ pool: this.#config.name }).then((count) => {
      if (count === 0) return;
      this.#emitter.emit("flame.runner.reap", {
        "flame.backend": this.#backend.name,
        "flame.count": count,
      });
    }, (err) => {
      this.#emitter.log.warn(
        `pool ${this.#config.name}: cannot reap leftovers: ${(err as Error).message}`,
      );
    });
  }

  /**
   * Re-evaluates whether the pool keeps the process alive (see `#holding`):
   * called whenever calls, runners or boots may have dropped to none or risen from none.
   */
  updateHold(): void {
    const hold = this.booting > 0 || this.#placement.runners.length > 0 ||
      this.#host.pendingCalls() > 0;
    if (hold === this.#holding) return;
    this.#holding = hold;
    if (hold) {
      this.#openListener?.ref();
    } else {
      this.#openListener?.unref();
      this.#host.idle();
    }
  }

  #boot(): void {
    this.booting++;
    this.counts.boots++;
    this.updateHold();
    const id = `${this.#config.name}-${crypto.randomUUID().slice(0, 8)}`;
    const started = Date.now();
    this.#emitter.emit("flame.runner.boot.start", {}, id);
    const boot = this.#bootRunner(id, started).then(
      (runner) => {
        this.booting--;
        this.#consecutiveBootFailures = 0;
        this.#emitter.emit("flame.runner.boot.end", {
          "flame.ok": true,
          "flame.duration_ms": Date.now() - started,
        }, id);
        this.#placement.runners.push(runner);
        if (this.#host.isClosing()) {
          this.stopRunner(runner, "closed");
          return;
        }
        // `max` was lowered while it booted.
        if (this.#placement.active() > this.#config.max) {
          runner.link.closed.then((reason) => this.#runnerGone(runner, reason));
          this.stopRunner(runner, "resized");
          this.updateHold();
          return;
        }
        runner.link.closed.then((reason) => this.#runnerGone(runner, reason));
        this.#host.dispatch();
        if (runner.busy === 0) this.scheduleIdle(runner);
      },
      (err) => {
        this.booting--;
        this.counts.bootFailures++;
        this.#consecutiveBootFailures++;
        const error = err instanceof BootError
          ? err
          : new BootError(`Cannot boot runner "${id}": ${(err as Error)?.message ?? err}`, {
            cause: err,
          });
        this.#emitter.emit(
          "flame.runner.boot.end",
          {
            "flame.ok": false,
            "flame.duration_ms": Date.now() - started,
            "error.message": error.message,
          },
          id,
          error,
        );
        this.#host.bootFailed(error);
        this.#scheduleReplace();
        this.updateHold();
      },
    );
    this.#boots.add(boot);
    boot.finally(() => this.#boots.delete(boot));
  }

  async #bootRunner(id: string, startedAt: number): Promise<Runner> {
    const config = this.#config;
    const reserve = reportReserve(config.bootTimeout);
    // The runner's last lines, to explain a boot that fails (from the backend's output events).
    const lastLines: string[] = [];
    let collecting = true;
    const { listener, dialHost } = await this.#ensureListener();
    const secret = generateSecret();
    const expectation = await listener.expect(id, secret);
    const controller = new AbortController();
    const idleBackstop = Math.max(config.idleShutdownAfter, config.minIdleShutdownAfter);
    const parentEnv = encodeParentEnv({
      v: PROTOCOL_VERSION,
      host: dialHost,
      port: listener.addr.port,
      id,
      secret,
      // Gives up before the parent does, so its own reason is in its last lines.
      connectTimeout: config.bootTimeout - 2 * reserve,
      heartbeatInterval: config.heartbeatInterval,
      heartbeatTimeout: config.heartbeatTimeout,
      // The pool shrinks idle runners itself; the runner's own idle exit is a
      // backstop that never races the pool's decision.
      idleTimeout: Number.isFinite(idleBackstop)
        ? idleBackstop + config.heartbeatTimeout * 2
        : null,
    });
    let handle: RunnerHandle | undefined;
    let booting: Promise<RunnerHandle> | undefined;
    let timer: Timer | undefined;
    let giveUp: (() => void) | undefined;
    let timedOut = false;
    try {
      // Rejects when the boot times out or the pool closes (which gives up on boots under way).
      const givenUp = new Promise<never>((_, reject) => {
        const fail = (error: BootError) => {
          controller.abort(error);
          reject(error);
        };
        giveUp = () => fail(new BootError(`Cannot boot runner "${id}": the pool is closing`));
        this.#bootAborts.add(giveUp);
        const waited = config.bootTimeout - reserve;
        timer = setTimeout(async () => {
          timedOut = true;
          expectation.cancel();
          let why = lastLines.length > 0
            ? `; its last output lines:\n${lastLines.join("\n")}`
            : "; it printed nothing";
          if (handle !== undefined) {
            // Stopped now, for its last words (a runner stopped while connecting says why it could not).
            this.#trackStop(this.#backend.stop(handle));
            const how = await settledWithin(handle.exited, reserve / 2, controller.signal);
            if (how !== undefined) why = `; it was stopped: ${how}`;
          }
          fail(
            new BootError(
              `Cannot boot runner "${id}": it did not connect within ${waited} ms (bootTimeout ${config.bootTimeout} ms, less ${reserve} ms to report)${why}`,
            ),
          );
        }, Math.max(0, startedAt + waited - Date.now()));
      });
      const spec = {
        id,
        parentEnv,
        pool: config.name,
        signal: controller.signal,
        onEvent: (name: FlameEventName, attributes: FlameAttributes) => {
          if (collecting && name === "flame.runner.output") {
            lastLines.push(String(attributes["flame.line"]));
            if (lastLines.length > BOOT_OUTPUT_LINES) lastLines.shift();
          }
          this.#emitter.emit(name, attributes, id);
        },
      };
      // The engine's transient answers are retried with backoff, while the boot has time.
      for (let retry = 0;; retry++) {
        booting = this.#backend.boot(spec);
        const outcome = await Promise.race([
          booting.then((h) => ({ h, e: undefined }), (e: unknown) => ({ h: undefined, e })),
          givenUp,
        ]);
        if (outcome.h !== undefined) {
          handle = outcome.h;
          break;
        }
        booting = undefined;
        const delay = Math.min(BOOT_RETRY_MAX_MS, BOOT_RETRY_MS * 2 ** retry);
        const transient = this.#backend.transient?.(outcome.e) === true;
        if (
          !transient || retry >= BOOT_RETRIES ||
          Date.now() + delay >= startedAt + config.bootTimeout - reserve
        ) {
          throw outcome.e;
        }
        this.#emitter.emit("flame.runner.boot.phase", {
          "flame.phase": "retry",
          "flame.attempt": retry + 1,
          "flame.backoff_ms": delay,
          "error.message": String((outcome.e as Error)?.message ?? outcome.e),
        }, id);
        let wait: Timer | undefined;
        await Promise.race([new Promise((r) => wait = setTimeout(r, delay)), givenUp])
          .finally(() => clearTimeout(wait));
      }
      const started = handle;
      const conn = await Promise.race([
        expectation.connection,
        givenUp,
        started.exited.then((how) => {
          // Stopped at the deadline: the timeout's error (with this exit in it) is the one.
          if (timedOut) return givenUp;
          throw new BootError(`Cannot boot runner "${id}": it exited before connecting (${how})`);
        }),
      ]);
      collecting = false;
      this.#emitter.emit("flame.runner.boot.phase", { "flame.phase": "authenticated" }, id);
      const link = new RunnerLink(
        id,
        conn,
        {
          interval: config.heartbeatInterval,
          timeout: config.heartbeatTimeout,
        },
        this.#emitter.log,
        started.exited,
      );
      started.exited.then((how) => link.close(how));
      return {
        id,
        link,
        handle: started,
        busy: 0,
        served: 0,
        idleSince: Date.now(),
        idleTimer: undefined,
        idleTimerAt: Infinity,
        stopping: false,
        retiring: undefined,
      };
    } catch (err) {
      expectation.cancel();
      controller.abort();
      if (handle !== undefined) {
        if (!timedOut) this.#trackStop(this.#backend.stop(handle));
      } else if (booting !== undefined) {
        // A boot given up on still ends in the backend: stop what it started after all
        // (tracked as a stop, so close() waits for it).
        this.#trackStop(booting.then((late) => this.#backend.stop(late), () => {}));
      }
      throw err;
    } finally {
      clearTimeout(timer);
      if (giveUp !== undefined) this.#bootAborts.delete(giveUp);
    }
  }

  #scheduleReplace(): void {
    if (this.#host.isClosing() || this.#replaceTimer !== undefined) return;
    if (this.#placement.runners.length + this.booting >= this.#config.min) return;
    // Back off after failures so a broken image does not spin.
    const delay = Math.min(30_000, 250 * 2 ** Math.min(this.#consecutiveBootFailures, 7));
    this.#replaceTimer = setTimeout(() => {
      this.#replaceTimer = undefined;
      this.bootToMin();
    }, this.#consecutiveBootFailures === 0 ? 0 : delay);
    // With nothing else under way, a pending replacement does not keep the process alive.
    unrefTimer(this.#replaceTimer);
  }

  /** The idle limit that applies to a runner now (`min` runners may have their own). */
  #idleLimit(): number {
    return this.#placement.active() > this.#config.min
      ? this.#config.idleShutdownAfter
      : this.#config.minIdleShutdownAfter;
  }

  /** `runner` just became idle: it is stopped once it stays so past its limit. */
  scheduleIdle(runner: Runner): void {
    runner.idleSince = Date.now();
    const limit = this.#idleLimit();
    if (!Number.isFinite(limit)) return;
    // An armed timer that fires no later than needed is kept: #idleCheck measures
    // the idle time and re-arms for the rest. No timer churn per call.
    const due = runner.idleSince + limit;
    if (runner.idleTimer !== undefined && runner.idleTimerAt <= due) return;
    this.#armIdle(runner, limit);
  }

  #armIdle(runner: Runner, delay: number): void {
    clearTimeout(runner.idleTimer);
    runner.idleTimerAt = Date.now() + delay;
    // Capped at what a timer holds; #idleCheck re-arms for the rest.
    runner.idleTimer = setTimeout(() => this.#idleCheck(runner), Math.min(delay, 2 ** 31 - 1));
  }

  #idleCheck(runner: Runner): void {
    runner.idleTimer = undefined;
    runner.idleTimerAt = Infinity;
    if (runner.busy > 0 || runner.stopping || this.#host.isClosing()) return;
    const limit = this.#idleLimit();
    if (!Number.isFinite(limit)) return;
    const idleFor = Date.now() - runner.idleSince;
    if (idleFor >= limit) {
      // Headroom the scaling policy still wants: kept, idle from now.
      if (this.#config.scaling !== undefined && this.#placement.active() <= this.#wanted()) {
        runner.idleSince = Date.now();
        this.#armIdle(runner, limit);
        return;
      }
      this.stopRunner(runner, "idle");
    } else {
      this.#armIdle(runner, limit - idleFor);
    }
  }

  /** Takes `runner` out of service: shuts its link down (letting calls finish), then stops it. */
  /**
   * Stops `runner` now if idle, else once its calls are done (it takes no
   * new call meanwhile: the pool's `release` stops it).
   */
  retire(runner: Runner, reason: "resized" | "code-changed"): void {
    if (runner.stopping) return;
    if (runner.busy === 0) this.stopRunner(runner, reason);
    else runner.retiring = reason;
  }

  stopRunner(runner: Runner, reason: ShrinkReason): void {
    if (runner.stopping) return;
    runner.stopping = true;
    clearTimeout(runner.idleTimer);
    this.#emitter.emit("flame.runner.shrink", { "flame.reason": reason }, runner.id);
    const shutdownTimeout = this.#config.shutdownTimeout;
    const stop = (async () => {
      if (!runner.link.isClosed) {
        runner.link.shutdown(reason === "closed" ? 0 : shutdownTimeout);
        let timer: Timer | undefined;
        await Promise.race([
          runner.link.closed,
          new Promise((r) => timer = setTimeout(r, Math.min(shutdownTimeout, 5000))),
        ]);
        clearTimeout(timer);
        runner.link.close(`stopped (${reason})`);
      }
      await this.#backend.stop(runner.handle);
    })().catch((err) => {
      this.#emitter.log.error(
        `pool ${this.#config.name}: cannot stop runner ${runner.id}: ${err.message}`,
      );
    });
    this.#trackStop(stop);
  }

  #trackStop(stop: Promise<void>): void {
    const tracked = stop.catch((err) => {
      this.#emitter.log.error(
        `pool ${this.#config.name}: stopping a runner failed: ${err?.message ?? err}`,
      );
    });
    this.#stops.add(tracked);
    tracked.finally(() => this.#stops.delete(tracked));
  }

  #runnerGone(runner: Runner, reason: string): void {
    if (!this.#placement.remove(runner)) return;
    clearTimeout(runner.idleTimer);
    this.updateHold();
    if (!runner.stopping) {
      runner.stopping = true;
      this.#emitter.emit("flame.runner.shrink", {
        "flame.reason": "exited",
        "error.message": reason,
      }, runner.id);
      this.#trackStop(this.#backend.stop(runner.handle));
    }
    if (this.#host.isClosing()) return;
    this.#scheduleReplace();
    this.#host.dispatch();
  }

  /** No more replacement boots (the pool is closing). */
  cancelReplace(): void {
    clearTimeout(this.#replaceTimer);
  }

  /**
   * Gives up on boots in progress (their runners would be stopped as soon as
   * they are up), stops every runner, and waits until the boots have ended
   * and every runner is stopped.
   */
  async stopAll(): Promise<void> {
    for (const giveUp of this.#bootAborts) giveUp();
    for (const runner of this.#placement.runners.slice()) this.stopRunner(runner, "closed");
    while (this.#boots.size > 0) await Promise.allSettled([...this.#boots]);
    while (this.#stops.size > 0) await Promise.allSettled([...this.#stops]);
    this.#placement.runners.length = 0;
  }

  /** Closes the parent's port and waits for the start-up reap. */
  async release(): Promise<void> {
    if (this.#listener) {
      const ready = await this.#listener.catch(() => undefined);
      await ready?.listener.close();
    }
    await this.#reaping;
  }
}
