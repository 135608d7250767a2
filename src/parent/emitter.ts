/**
 * The pool's one event source. The pool and its backend report what happened
 * as {@linkcode FlameEvent}s, and only here; the user's `onEvent`, the FLAME
 * hooks (`onGrowStart`, `onGrowEnd`, `onShrink`) and the log lines are drawn
 * from those events, so the three can never disagree.
 *
 * @module
 */

import type { BootError } from "../errors.ts";
import type { FlameAttributes, FlameEvent, FlameEventListener, FlameEventName } from "../events.ts";
import { type Logger, type LogLevel, silentLogger } from "../util/logger.ts";

/** Details passed to `onGrowStart`. */
export interface GrowStartEvent {
  /** The pool's name. */
  pool: string;
  /** The runner being booted. */
  runnerId: string;
}

/** Details passed to `onGrowEnd`. */
export interface GrowEndEvent {
  /** The pool's name. */
  pool: string;
  /** The runner that was booted. */
  runnerId: string;
  /** Whether it connected and authenticated. */
  ok: boolean;
  /** Milliseconds from boot start to authenticated (or failure). */
  durationMs: number;
  /** Why it failed, when it did. */
  error?: BootError;
}

/** Why a runner leaves the pool. */
export type ShrinkReason =
  | "idle"
  | "single-use"
  | "exited"
  | "closed"
  | "resized"
  | "code-changed";

/** Details passed to `onShrink`. */
export interface ShrinkEvent {
  /** The pool's name. */
  pool: string;
  /** The runner leaving the pool. */
  runnerId: string;
  /** Why: idle, single use, exited, or the pool closing. */
  reason: ShrinkReason;
}

/** Who listens to a pool's events. */
export interface EmitterListeners {
  onEvent?: FlameEventListener | undefined;
  onGrowStart?: ((event: GrowStartEvent) => void) | undefined;
  onGrowEnd?: ((event: GrowEndEvent) => void) | undefined;
  onShrink?: ((event: ShrinkEvent) => void) | undefined;
  logger?: Logger | undefined;
}

/** Emits a pool's events to the user's listener, the FLAME hooks and the log. */
export class PoolEmitter {
  readonly #pool: string;
  readonly #onEvent: FlameEventListener | undefined;
  readonly #hooks: EmitterListeners;
  readonly #log: Logger;
  /** Whether anything reads events nobody else turns into a hook or a log line (`flame.call.end`). */
  readonly wantsCallEvents: boolean;

  constructor(pool: string, listeners: EmitterListeners) {
    this.#pool = pool;
    this.#onEvent = listeners.onEvent;
    this.#hooks = listeners;
    this.#log = listeners.logger ?? silentLogger;
    this.wantsCallEvents = listeners.onEvent !== undefined;
  }

  /** The pool's logger, for what is not an event (listener, cast and stop failures). */
  get log(): Logger {
    return this.#log;
  }

  /** Whether the user gave a logger (else log lines go nowhere). */
  get hasLogger(): boolean {
    return this.#log !== silentLogger;
  }

  /**
   * Reports one event.
   *
   * @param name What happened.
   * @param attributes Its details (the pool and runner are added here).
   * @param runnerId The runner concerned, if any.
   * @param error The boot's error, for `onGrowEnd` (its message is in the attributes).
   */
  emit(
    name: FlameEventName,
    attributes: FlameAttributes,
    runnerId?: string,
    error?: BootError,
  ): void {
    const event: FlameEvent = {
      name,
      time: Date.now(),
      attributes: {
        "flame.pool": this.#pool,
        ...(runnerId === undefined ? {} : { "flame.runner.id": runnerId }),
        ...attributes,
      },
    };
    if (this.#onEvent !== undefined) {
      try {
        this.#onEvent(event);
      } catch (err) {
        this.#log.error(`pool ${this.#pool}: onEvent threw: ${(err as Error).message}`);
      }
    }
    this.#toHook(event, runnerId, error);
    this.#toLog(event, runnerId);
  }

  #toHook(event: FlameEvent, runnerId: string | undefined, error: BootError | undefined): void {
    if (runnerId === undefined) return;
    const a = event.attributes;
    const pool = this.#pool;
    switch (event.name) {
      case "flame.runner.boot.start":
        return this.#call("onGrowStart", { pool, runnerId });
      case "flame.runner.boot.end":
        return this.#call("onGrowEnd", {
          pool,
          runnerId,
          ok: a["flame.ok"] === true,
          durationMs: Number(a["flame.duration_ms"]),
          ...(error === undefined ? {} : { error }),
        });
      case "flame.runner.shrink":
        return this.#call("onShrink", {
          pool,
          runnerId,
          reason: a["flame.reason"] as ShrinkReason,
        });
    }
  }

  #call<K extends "onGrowStart" | "onGrowEnd" | "onShrink">(
    hook: K,
    event: Parameters<NonNullable<EmitterListeners[K]>>[0],
  ): void {
    try {
      (this.#hooks[hook] as ((e: typeof event) => void) | undefined)?.(event);
    } catch (err) {
      this.#log.error(`pool ${this.#pool}: ${hook} threw: ${(err as Error).message}`);
    }
  }

  #toLog(event: FlameEvent, runnerId: string | undefined): void {
    if (this.#log === silentLogger) return;
    const line = logLine(`pool ${this.#pool}`, event, runnerId);
    if (line !== undefined) this.#log[line[0]](line[1]);
  }
}

/** The log line an event makes, if any. */
function logLine(
  pool: string,
  event: FlameEvent,
  runnerId: string | undefined,
): [LogLevel, string] | undefined {
  const a = event.attributes;
  switch (event.name) {
    case "flame.runner.boot.start":
      return ["info", `${pool}: booting runner ${runnerId}`];
    case "flame.runner.boot.end":
      return a["flame.ok"] === true
        ? ["info", `${pool}: runner ${runnerId} up in ${a["flame.duration_ms"]} ms`]
        : ["error", `${pool}: ${a["error.message"]}`];
    case "flame.runner.shrink":
      return a["flame.reason"] === "exited"
        ? ["warn", `${pool}: runner ${runnerId} went away: ${a["error.message"]}`]
        : ["info", `${pool}: stopping runner ${runnerId} (${a["flame.reason"]})`];
    case "flame.runner.boot.phase":
      return a["flame.phase"] === "retry"
        ? [
          "warn",
          `${pool}: boot of runner ${runnerId} failed (${a["error.message"]}); retry ${
            a["flame.attempt"]
          } in ${a["flame.backoff_ms"]} ms`,
        ]
        : undefined;
    case "flame.call.retry":
      return [
        "warn",
        `${pool}: call attempt ${a["flame.attempt"]} failed (${a["error.type"]}: ${
          a["error.message"]
        }); retrying in ${a["flame.backoff_ms"]} ms`,
      ];
    case "flame.code.build":
      return [
        "info",
        `${pool}: built ${a["flame.specifier"]} for code sync: ${a["flame.bytes"]} bytes, sha256:${
          String(a["flame.hash"]).slice(0, 12)
        }, in ${a["flame.duration_ms"]} ms`,
      ];
    case "flame.code.ship":
      return [
        "debug",
        `${pool}: shipped sha256:${String(a["flame.hash"]).slice(0, 12)} (${
          a["flame.bytes"]
        } bytes) to runner ${runnerId} in ${a["flame.duration_ms"]} ms`,
      ];
    case "flame.runner.reap":
      return ["info", `${pool}: removed ${a["flame.count"]} runner(s) left by dead parents`];
    case "flame.runner.output":
      // stdout at info, stderr (and the count of lines dropped) at warn.
      return [
        a["log.iostream"] === "stderr" || a["flame.dropped"] !== undefined ? "warn" : "info",
        `${pool}: runner ${runnerId} ${a["log.iostream"]}: ${a["flame.line"]}`,
      ];
    case "flame.image.pull.progress":
      return [
        "debug",
        `${a["flame.backend"]}: pull ${a["flame.image"]}: ${a["flame.status"]} ${
          a["flame.progress"] ?? ""
        }`,
      ];
    default:
      return undefined;
  }
}
