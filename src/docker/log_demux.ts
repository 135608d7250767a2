/**
 * Demultiplexer for the 8-byte framed stdout/stderr stream of container logs
 * (containers created without a TTY), and a helper to collect it as text.
 *
 * @module
 */

import { DockerProtocolError } from "./errors.ts";
import { readUint32BE } from "../util/bytes.ts";

/** A piece of a container's output. */
export interface LogChunk {
  /** Which output stream it was written to. */
  stream: "stdout" | "stderr";
  /** The bytes (a frame's payload may arrive in several chunks). */
  data: Uint8Array;
}

const HEADER_SIZE = 8;

/**
 * Splits the multiplexed log stream (frames of `[type, 0, 0, 0, size32be]`
 * followed by `size` bytes) into stdout and stderr chunks, whatever the
 * sizes of the pieces pushed. Payloads are passed on as they arrive, never
 * buffered whole.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LogDemuxer } from "./log_demux.ts";
 *
 * const demuxer = new LogDemuxer();
 * const chunks = demuxer.push(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 2, 104, 105]));
 * assert.equal(chunks[0]?.stream, "stderr");
 * assert.equal(new TextDecoder().decode(chunks[0]?.data), "hi");
 * demuxer.finish();
 * ```
 */
export class LogDemuxer {
  #header = new Uint8Array(HEADER_SIZE);
  #headerFill = 0;
  #stream: "stdout" | "stderr" = "stdout";
  #remaining = 0;
  #systemError: Uint8Array[] | undefined;

  /**
   * Demultiplexes the next bytes.
   *
   * @param input Bytes as they arrived.
   * @returns The output chunks they contain, as views into `input`.
   * @throws {DockerProtocolError} For an unknown stream type, or when the engine
   * reports an error inside the stream.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LogDemuxer } from "./log_demux.ts";
   *
   * // One stdout frame ("ok\n") arriving in two pieces, split inside its header.
   * const frame = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 3, 111, 107, 10]);
   * const demuxer = new LogDemuxer();
   * assert.deepEqual(demuxer.push(frame.subarray(0, 5)), []);
   * const [chunk] = demuxer.push(frame.subarray(5));
   * assert.equal(chunk?.stream, "stdout");
   * assert.equal(new TextDecoder().decode(chunk?.data), "ok\n");
   * ```
   */
  push(input: Uint8Array): LogChunk[] {
    const chunks: LogChunk[] = [];
    const length = input.length;
    let i = 0;
    while (i < length) {
      if (this.#remaining === 0) {
        const take = Math.min(HEADER_SIZE - this.#headerFill, length - i);
        this.#header.set(input.subarray(i, i + take), this.#headerFill);
        this.#headerFill += take;
        i += take;
        if (this.#headerFill === HEADER_SIZE) this.#onHeader();
        continue;
      }
      const take = Math.min(this.#remaining, length - i);
      const data = input.subarray(i, i + take);
      i += take;
      this.#remaining -= take;
      if (this.#systemError !== undefined) {
        this.#systemError.push(data.slice());
        if (this.#remaining === 0) this.#throwSystemError();
      } else {
        chunks.push({ stream: this.#stream, data });
      }
    }
    return chunks;
  }

  /**
   * Ends the stream.
   *
   * @throws {DockerProtocolError} When it stopped inside a frame.
   *
   * @example A stream cut short
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerProtocolError } from "./errors.ts";
   * import { LogDemuxer } from "./log_demux.ts";
   *
   * const demuxer = new LogDemuxer();
   * demuxer.push(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 9, 104])); // 1 of 9 payload bytes
   * assert.throws(() => demuxer.finish(), DockerProtocolError);
   * ```
   */
  finish(): void {
    if (this.#headerFill !== 0 || this.#remaining !== 0) {
      throw new DockerProtocolError("Log stream ended inside a frame");
    }
  }

  #onHeader(): void {
    const header = this.#header;
    this.#headerFill = 0;
    const type = header[0]!;
    const size = readUint32BE(header, 4);
    if (type > 3 || header[1] !== 0 || header[2] !== 0 || header[3] !== 0) {
      throw new DockerProtocolError(
        `Invalid log frame header [${Array.from(header).join(", ")}]`,
      );
    }
    // Type 0 (stdin) is what the engine's own demultiplexer writes to stdout.
    this.#stream = type === 2 ? "stderr" : "stdout";
    if (type === 3) this.#systemError = [];
    this.#remaining = size;
    if (size === 0 && type === 3) this.#throwSystemError();
  }

  #throwSystemError(): never {
    const message = new TextDecoder().decode(
      new Uint8Array(this.#systemError!.flatMap((part) => Array.from(part))),
    );
    throw new DockerProtocolError(
      `Engine reported an error in the log stream: ${JSON.stringify(message.trim())}`,
    );
  }
}

/** Output of a container collected as text. */
export interface CollectedLogs {
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/**
 * Collects a stream of log chunks into stdout and stderr text.
 *
 * @param chunks The chunks, such as `client.containerLogs(id)`.
 * @returns The decoded text of each stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { collectLogs, type LogChunk } from "@flame/docker/docker";
 *
 * async function* chunks(): AsyncGenerator<LogChunk> {
 *   yield { stream: "stdout", data: new TextEncoder().encode("hi\n") };
 * }
 * const { stdout, stderr } = await collectLogs(chunks());
 * assert.ok(stdout === "hi\n" && stderr === "");
 * ```
 */
export async function collectLogs(
  chunks: AsyncIterable<LogChunk> | Iterable<LogChunk>,
): Promise<CollectedLogs> {
  const out = new TextDecoder();
  const err = new TextDecoder();
  let stdout = "";
  let stderr = "";
  for await (const chunk of chunks) {
    if (chunk.stream === "stdout") stdout += out.decode(chunk.data, { stream: true });
    else stderr += err.decode(chunk.data, { stream: true });
  }
  return { stdout: stdout + out.decode(), stderr: stderr + err.decode() };
}
