/**
 * The log follow of a `DockerBackend` runner container: each line forwarded
 * (as a `flame.runner.output` event, within its bounds) as it comes, and the
 * last lines kept in its handle to explain its exit; the follow runs from the
 * start, so `AutoRemove` taking the container's logs away loses nothing. A socket proxy in front of the engine
 * (HAProxy's `timeout server`, as in docker-socket-proxy) cuts a follow that
 * stays quiet for a while, and an engine restart drops it: the follow then
 * starts again from the last line seen, so a runner that dies after an hour
 * still reports what it printed last.
 *
 * @module
 */

import type { DockerClient } from "../../docker/client.ts";
import { DockerError } from "../../docker/errors.ts";
import type { LogChunk } from "../../docker/log_demux.ts";
import type { RunnerOutput } from "../runner_output.ts";
import type { DockerHandle } from "./handle.ts";

/** How many of a container's last lines are kept. */
const LOG_TAIL_LINES = 30;
/** Milliseconds between attempts to follow again after the engine connection dropped. */
const FOLLOW_RETRY_MIN = 100;
const FOLLOW_RETRY_MAX = 2000;
/**
 * Seconds a resumed follow reaches back before the last line seen: stdout and
 * stderr are stamped apart, so one stream's line may reach the log a little
 * after a later line of the other (repeats are dropped per stream).
 */
const SINCE_MARGIN = 1;

type Stream = LogChunk["stream"];

/** `2026-01-02T03:04:05.123456789Z ` (or a `+hh:mm` offset), as `timestamps=1` prefixes each line. */
const TIMESTAMP =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})(?: |$)/;

/**
 * A container's last lines, from a log stream asked with `timestamps: true`,
 * possibly followed several times: timestamps are stripped, and lines at or
 * before the last one kept from their stream are dropped, so the overlap of a
 * resumed follow is neither lost nor repeated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LogTail } from "./logs.ts";
 *
 * const lines: string[] = [];
 * const tail = new LogTail(lines);
 * const chunk = (text: string) => ({ stream: "stdout" as const, data: new TextEncoder().encode(text) });
 * tail.push(chunk("2026-01-02T03:04:05.000000001Z one\n2026-01-02T03:04:05.000000002Z tw"));
 * tail.end(false); // the connection dropped inside the second line
 * assert.equal(tail.since, 1767323044);
 * // The resumed follow sends both lines again, then a new one.
 * tail.push(chunk("2026-01-02T03:04:05.000000001Z one\n2026-01-02T03:04:05.000000002Z two\n"));
 * tail.push(chunk("2026-01-02T03:04:06.5Z three\n"));
 * tail.end(true);
 * assert.deepEqual(lines, ["one", "two", "three"]);
 * ```
 */
export class LogTail {
  readonly #lines: string[];
  readonly #limit: number;
  #pending: Record<Stream, string> = { stdout: "", stderr: "" };
  #decoders: Record<Stream, TextDecoder> = LogTail.#newDecoders();
  /** The timestamp (nanoseconds) of the last line kept, per stream. */
  #last: Record<Stream, bigint | undefined> = { stdout: undefined, stderr: undefined };
  /** The UNIX seconds of the latest line kept. */
  #lastSeconds: number | undefined;
  readonly #onLine: ((stream: Stream, line: string) => void) | undefined;

  /**
   * @param lines Where the lines go (the handle's `logTail`); the oldest are shifted out.
   * @param options `limit`: how many lines are kept (default 30); `onLine`:
   * called with each line kept (once: repeats of a resumed follow are not).
   */
  constructor(
    lines: string[],
    options: { limit?: number; onLine?: (stream: Stream, line: string) => void } = {},
  ) {
    this.#lines = lines;
    this.#limit = options.limit ?? LOG_TAIL_LINES;
    this.#onLine = options.onLine;
  }

  static #newDecoders(): Record<Stream, TextDecoder> {
    return { stdout: new TextDecoder(), stderr: new TextDecoder() };
  }

  /**
   * The `since` a resumed follow asks for: whole seconds, a little before the
   * latest line kept.
   *
   * @returns UNIX seconds, or `undefined` before any line (follow from the start).
   */
  get since(): number | undefined {
    return this.#lastSeconds === undefined ? undefined : this.#lastSeconds - SINCE_MARGIN;
  }

  /**
   * Takes the next piece of a stream; its complete lines are kept.
   *
   * @param chunk A piece as the log stream delivered it.
   * @returns How many lines were kept (repeats of lines already kept excluded).
   */
  push(chunk: LogChunk): number {
    const text = this.#pending[chunk.stream] +
      this.#decoders[chunk.stream].decode(chunk.data, { stream: true });
    const lines = text.split("\n");
    this.#pending[chunk.stream] = lines.pop() ?? "";
    let kept = 0;
    for (const line of lines) if (this.#keep(chunk.stream, line)) kept++;
    return kept;
  }

  /**
   * Ends one follow.
   *
   * @param complete `true` when the stream ended (a last line without a newline
   * is kept); `false` when it was cut (a part line is dropped: the next follow
   * sends it whole).
   */
  end(complete: boolean): void {
    for (const stream of ["stdout", "stderr"] as const) {
      if (complete) this.#keep(stream, this.#pending[stream] + this.#decoders[stream].decode());
      this.#pending[stream] = "";
    }
    this.#decoders = LogTail.#newDecoders();
  }

  #keep(stream: Stream, line: string): boolean {
    const stamp = TIMESTAMP.exec(line);
    let text = line;
    if (stamp) {
      const ms = Date.parse(stamp[1]! + stamp[3]!);
      const at = BigInt(ms) * 1_000_000n + BigInt((stamp[2] ?? "").padEnd(9, "0"));
      const last = this.#last[stream];
      if (last !== undefined && at <= last) return false;
      this.#last[stream] = at;
      this.#lastSeconds = Math.max(this.#lastSeconds ?? 0, ms / 1000);
      text = line.slice(stamp[0].length);
    }
    if (text === "") return false;
    this.#lines.push(text);
    if (this.#lines.length > this.#limit) this.#lines.shift();
    this.#onLine?.(stream, text);
    return true;
  }
}

/** Resolves `true` after `ms`, or `false` as soon as `signal` aborts (the timer is cleared). */
function abortableDelay(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Forwards the container's log lines to `output` and keeps the last ones in
 * `handle.logTail` until it exits or `handle.stopLogs` aborts (then `output`
 * is ended). When the engine connection drops, follows again
 * from the last line seen (backing off from 100 ms to 2 s between attempts
 * that fail at once); stops for good when the stream ends (the container
 * stopped) or the engine answers with an error (such as 404: it is gone).
 *
 * @param client The engine.
 * @param handle The runner: its container, tail and stop signal.
 * @param output Where each line is forwarded.
 * @returns Resolves once the follow is over; never rejects.
 */
export async function followLogs(
  client: DockerClient,
  handle: DockerHandle,
  output?: RunnerOutput,
): Promise<void> {
  try {
    await follow(client, handle, output);
  } finally {
    output?.end();
  }
}

async function follow(
  client: DockerClient,
  handle: DockerHandle,
  output: RunnerOutput | undefined,
): Promise<void> {
  const signal = handle.stopLogs.signal;
  const tail = new LogTail(
    handle.logTail,
    output === undefined ? {} : { onLine: (stream, line) => output.line(stream, line) },
  );
  for (let delay = FOLLOW_RETRY_MIN; !signal.aborted;) {
    const openedAt = Date.now();
    let kept = 0;
    try {
      const since = tail.since;
      for await (
        const chunk of client.containerLogs(handle.container, {
          follow: true,
          stdout: true,
          stderr: true,
          timestamps: true,
          ...(since === undefined ? {} : { since }),
          tty: false, // Runners are created without a TTY: skip the inspect that would ask.
          signal,
        })
      ) {
        kept += tail.push(chunk);
      }
      // The engine ends a follow when the container stops (a proxy's cut of the
      // chunked body is an error instead): the tail is complete.
      tail.end(true);
      return;
    } catch (err) {
      tail.end(false);
      // Gone (404), refused by the engine, or being stopped: the tail is what we have.
      if (err instanceof DockerError || signal.aborted) return;
    }
    // A follow that lived (a proxy cutting it when quiet) is resumed at once; one
    // failing at once (the engine or proxy away) is retried less and less often.
    if (kept > 0 || Date.now() - openedAt >= FOLLOW_RETRY_MAX) delay = FOLLOW_RETRY_MIN;
    if (!await abortableDelay(delay, signal)) return;
    delay = Math.min(delay * 2, FOLLOW_RETRY_MAX);
  }
}
