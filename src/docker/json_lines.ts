/**
 * Decoder for streams of JSON values, one per line (image pull progress).
 *
 * @module
 */

import { clip } from "../util/clip.ts";
import { DockerProtocolError } from "./errors.ts";

/** Options for {@linkcode JsonLinesDecoder}. */
export interface JsonLinesDecoderOptions {
  /**
   * Longest line accepted, in characters.
   *
   * @default {1048576}
   */
  maxLineLength?: number;
}

/**
 * Splits bytes pushed in pieces of any size into lines and parses each
 * non-blank line as JSON.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JsonLinesDecoder } from "./json_lines.ts";
 *
 * const decoder = new JsonLinesDecoder();
 * const bytes = new TextEncoder().encode('{"status":"a"}\r\n{"sta');
 * assert.deepEqual(decoder.push(bytes), [{ status: "a" }]);
 * assert.deepEqual(decoder.push(new TextEncoder().encode('tus":"b"}')), []);
 * assert.deepEqual(decoder.finish(), [{ status: "b" }]);
 * ```
 */
export class JsonLinesDecoder {
  #text = new TextDecoder();
  #rest = "";
  #maxLineLength: number;

  /**
   * Creates a decoder for one stream.
   *
   * @param options The line length limit.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerProtocolError } from "./errors.ts";
   * import { JsonLinesDecoder } from "./json_lines.ts";
   *
   * const decoder = new JsonLinesDecoder({ maxLineLength: 64 });
   * const endless = new TextEncoder().encode(`{"status":"${"x".repeat(100)}`);
   * assert.throws(() => decoder.push(endless), DockerProtocolError);
   * ```
   */
  constructor(options: JsonLinesDecoderOptions = {}) {
    this.#maxLineLength = options.maxLineLength ?? 1048576;
  }

  /**
   * Decodes the next bytes.
   *
   * @param input Bytes as they arrived.
   * @returns The values of the lines they complete.
   * @throws {DockerProtocolError} For a line that is not JSON or is too long.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { JsonLinesDecoder } from "./json_lines.ts";
   *
   * const decoder = new JsonLinesDecoder();
   * const lines = '{"status":"Pulling fs layer","id":"a1"}\n\n{"status":"Pull complete","id":"a1"}\n';
   * const values = decoder.push(new TextEncoder().encode(lines)) as { status: string }[];
   * assert.deepEqual(values.map((v) => v.status), ["Pulling fs layer", "Pull complete"]);
   * ```
   */
  push(input: Uint8Array): unknown[] {
    const text = this.#rest + this.#text.decode(input, { stream: true });
    const values: unknown[] = [];
    let start = 0;
    for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
      this.#parse(text.slice(start, end), values);
      start = end + 1;
    }
    this.#rest = start === 0 ? text : text.slice(start);
    if (this.#rest.length > this.#maxLineLength) {
      throw new DockerProtocolError(`JSON line exceeds ${this.#maxLineLength} characters`);
    }
    return values;
  }

  /**
   * Ends the stream: parses a last line that had no line break.
   *
   * @returns The value of that line, if any.
   * @throws {DockerProtocolError} When it is not JSON.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { JsonLinesDecoder } from "./json_lines.ts";
   *
   * const decoder = new JsonLinesDecoder();
   * assert.deepEqual(decoder.push(new TextEncoder().encode('{"done":true}')), []);
   * assert.deepEqual(decoder.finish(), [{ done: true }]);
   * ```
   */
  finish(): unknown[] {
    const values: unknown[] = [];
    this.#parse(this.#rest + this.#text.decode(), values);
    this.#rest = "";
    return values;
  }

  #parse(line: string, values: unknown[]): void {
    if (line.length > this.#maxLineLength) {
      throw new DockerProtocolError(`JSON line exceeds ${this.#maxLineLength} characters`);
    }
    const trimmed = line.trim();
    if (trimmed === "") return;
    try {
      values.push(JSON.parse(trimmed));
    } catch (cause) {
      throw new DockerProtocolError(`Invalid JSON line ${JSON.stringify(clip(trimmed))}`, {
        cause,
      });
    }
  }
}
