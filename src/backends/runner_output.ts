/**
 * A runner's output on its way to the parent: split into lines, each reported
 * as a `flame.runner.output` event (which the pool also turns into a log line
 * naming the runner), within bounds: a line is cut past a length, and past a
 * rate lines are dropped and counted, so a runner printing a flood cannot
 * flood the parent. The last lines can be kept, to explain a runner's exit.
 *
 * @module
 */

import type { BootSpec } from "./backend.ts";

/** The stream a runner's line came from. */
export type OutputStream = "stdout" | "stderr";

/** Bounds of {@linkcode RunnerOutput}. */
export interface RunnerOutputOptions {
  /**
   * Lines per second forwarded, on average, per runner (both streams).
   *
   * @default {100}
   */
  rate?: number;
  /**
   * Lines forwarded in a burst before `rate` applies.
   *
   * @default {200}
   */
  burst?: number;
  /**
   * Characters kept of a line; the rest is cut (and the line says so).
   *
   * @default {4096}
   */
  maxLineLength?: number;
  /**
   * Last lines kept in {@linkcode RunnerOutput.tail} (dropped ones included:
   * a runner's last words explain its end).
   *
   * @default {0}
   */
  tailLines?: number;
}

const DEFAULTS = { rate: 100, burst: 200, maxLineLength: 4096, tailLines: 0 } as const;

/** Milliseconds between two reports of dropped lines while a flood lasts. */
const DROP_REPORT_INTERVAL = 1000;

/**
 * Forwards one runner's output, line by line, as `flame.runner.output` events.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RunnerOutput } from "./runner_output.ts";
 *
 * const seen: string[] = [];
 * const output = new RunnerOutput((_, a) => seen.push(`${a["log.iostream"]}: ${a["flame.line"]}`), {
 *   burst: 2,
 *   rate: 0.001,
 * });
 * output.write("stdout", new TextEncoder().encode("one\ntw"));
 * output.write("stdout", new TextEncoder().encode("o\nthree\nfour\n"));
 * output.end();
 * assert.deepEqual(seen, ["stdout: one", "stdout: two", "stdout: … 2 line(s) dropped (over 0.001 lines/s)"]);
 * assert.equal(output.dropped, 2);
 * ```
 */
export class RunnerOutput {
  readonly #onEvent: BootSpec["onEvent"];
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxLineLength: number;
  readonly #tailLines: number;
  /** The last lines, both streams in order (dropped ones included). */
  readonly tail: string[] = [];
  #tokens: number;
  #refilledAt = Date.now();
  #unreported = 0;
  #reportedAt = 0;
  #dropped = 0;
  #droppedFrom: OutputStream = "stdout";
  #pending: Record<OutputStream, string> = { stdout: "", stderr: "" };
  #decoders: Record<OutputStream, TextDecoder> = {
    stdout: new TextDecoder(),
    stderr: new TextDecoder(),
  };
  /** Whether the stream is inside a line forwarded cut (its rest is dropped). */
  #cutting: Record<OutputStream, boolean> = { stdout: false, stderr: false };
  #ended = false;

  /**
   * @param onEvent Where the events go (the boot spec's `onEvent`; none: lines are only counted).
   * @param options The bounds.
   */
  constructor(onEvent: BootSpec["onEvent"], options: RunnerOutputOptions = {}) {
    this.#onEvent = onEvent;
    this.#rate = options.rate ?? DEFAULTS.rate;
    this.#burst = options.burst ?? DEFAULTS.burst;
    this.#maxLineLength = options.maxLineLength ?? DEFAULTS.maxLineLength;
    this.#tailLines = options.tailLines ?? DEFAULTS.tailLines;
    this.#tokens = this.#burst;
  }

  /**
   * Lines dropped over the rate so far.
   *
   * @returns The count.
   */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Takes a piece of a stream; its complete lines are forwarded.
   *
   * @param stream Which stream.
   * @param bytes The bytes, as read.
   */
  write(stream: OutputStream, bytes: Uint8Array): void {
    const text = this.#pending[stream] + this.#decoders[stream].decode(bytes, { stream: true });
    const lines = text.split("\n");
    let rest = lines.pop() ?? "";
    for (const line of lines) {
      // The end of a line already forwarded cut: the rest of it goes.
      if (this.#cutting[stream]) this.#cutting[stream] = false;
      else this.line(stream, line);
    }
    // A line that never ends must not grow without bound: forwarded cut, the rest dropped.
    if (rest.length > this.#maxLineLength) {
      if (!this.#cutting[stream]) this.line(stream, rest);
      this.#cutting[stream] = true;
      rest = "";
    }
    this.#pending[stream] = rest;
  }

  /**
   * Forwards one complete line (without its newline), unless over the rate.
   *
   * @param stream Which stream.
   * @param text The line.
   */
  line(stream: OutputStream, text: string): void {
    if (this.#ended) return;
    const line = text.endsWith("\r") ? text.slice(0, -1) : text;
    if (line === "") return;
    if (this.#tailLines > 0) {
      this.tail.push(line.slice(0, this.#maxLineLength));
      if (this.tail.length > this.#tailLines) this.tail.shift();
    }
    const now = Date.now();
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + (now - this.#refilledAt) * this.#rate / 1000,
    );
    this.#refilledAt = now;
    if (this.#tokens < 1) {
      this.#dropped++;
      this.#unreported++;
      this.#droppedFrom = stream;
      return;
    }
    this.#tokens--;
    if (this.#unreported > 0 && now - this.#reportedAt >= DROP_REPORT_INTERVAL) {
      this.#reportDropped();
    }
    this.#onEvent?.("flame.runner.output", {
      "log.iostream": stream,
      "flame.line": line.length > this.#maxLineLength
        ? `${line.slice(0, this.#maxLineLength)}… (cut at ${this.#maxLineLength} characters)`
        : line,
    });
  }

  /** The streams ended: a last line without its newline is forwarded, and lines dropped since the last report are reported. */
  end(): void {
    if (this.#ended) return;
    for (const stream of ["stdout", "stderr"] as const) {
      const rest = this.#pending[stream] + this.#decoders[stream].decode();
      this.#pending[stream] = "";
      if (rest !== "" && !this.#cutting[stream]) this.line(stream, rest);
    }
    if (this.#unreported > 0) this.#reportDropped();
    this.#ended = true;
  }

  #reportDropped(): void {
    this.#onEvent?.("flame.runner.output", {
      "log.iostream": this.#droppedFrom,
      "flame.line": `… ${this.#unreported} line(s) dropped (over ${this.#rate} lines/s)`,
      "flame.dropped": this.#unreported,
    });
    this.#unreported = 0;
    this.#reportedAt = Date.now();
  }
}
