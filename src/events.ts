/**
 * Structured events: what happened in a pool, as a name and flat attributes,
 * shaped so they map one-to-one onto OpenTelemetry span events or log
 * records (`name` → event name, `attributes` → attributes, `time` → timestamp).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FlameEvent } from "@flame/docker";
 * const seen: FlameEvent[] = [];
 * const onEvent = (e: FlameEvent) => seen.push(e);
 * onEvent({ name: "flame.runner.boot.start", time: Date.now(), attributes: { "flame.pool": "p" } });
 * assert.equal(seen[0]?.attributes["flame.pool"], "p");
 * ```
 *
 * @module
 */

/** Every event name, with what it marks. */
export type FlameEventName =
  /** A runner boot started (`flame.runner.id`). */
  | "flame.runner.boot.start"
  /** A boot reached a phase (`flame.phase`: image, created, started, connected, authenticated; `flame.elapsed_ms`). */
  | "flame.runner.boot.phase"
  /** A boot ended (`flame.ok`, `flame.duration_ms`, `error.message` on failure). */
  | "flame.runner.boot.end"
  /** A runner left the pool (`flame.reason`: idle, single-use, exited, closed, resized, code-changed). */
  | "flame.runner.shrink"
  /** A call ended (`flame.ok`, `flame.duration_ms`, `flame.attempt`, `error.type` on failure). */
  | "flame.call.end"
  /**
   * A call failed and is tried again (`flame.attempt`: the attempt that
   * failed; `flame.backoff_ms`; `error.type`, `error.message`).
   */
  | "flame.call.retry"
  /** Image pull progress (`flame.backend`, `flame.image`, `flame.status`, `flame.layer`, `flame.progress`). */
  | "flame.image.pull.progress"
  /** Leftover runners of dead parents were removed (`flame.backend`, `flame.count`). */
  | "flame.runner.reap"
  /**
   * Code sync built a module's artifact (`flame.specifier`, `flame.hash`,
   * `flame.bytes`, `flame.duration_ms`).
   */
  | "flame.code.build"
  /** Code sync shipped an artifact to a runner (`flame.hash`, `flame.bytes`, `flame.duration_ms`). */
  | "flame.code.ship"
  /**
   * A line a runner printed (`log.iostream`: stdout or stderr; `flame.line`), or
   * how many lines were dropped over the rate limit (`flame.dropped`, with a
   * `flame.line` saying so).
   */
  | "flame.runner.output";

/** Attribute values: flat, as OpenTelemetry allows. */
export type FlameAttributes = Record<string, string | number | boolean>;

/** One event. */
export interface FlameEvent {
  /** What happened. */
  name: FlameEventName;
  /** When, in milliseconds since the epoch. */
  time: number;
  /** Details; always includes `flame.pool`, and `flame.runner.id` where a runner is concerned. */
  attributes: FlameAttributes;
}

/** Receives events. Must not throw (a throw is logged and ignored). */
export type FlameEventListener = (event: FlameEvent) => void;
