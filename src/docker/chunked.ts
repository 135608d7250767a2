/**
 * Decoder for `Transfer-Encoding: chunked` bodies.
 *
 * @module
 */

import { clip } from "../util/clip.ts";
import { addHeaderLine, latin1 } from "./_headers.ts";
import { DockerProtocolError } from "./errors.ts";

/** Options for {@linkcode ChunkedDecoder}. */
export interface ChunkedDecoderOptions {
  /**
   * Longest chunk-size line (with its extensions) accepted, in bytes.
   *
   * @default {4096}
   */
  maxLineSize?: number;
  /**
   * Largest trailer section accepted, in bytes.
   *
   * @default {65536}
   */
  maxTrailerSize?: number;
}

/** What one {@linkcode ChunkedDecoder.push} call produced. */
export interface ChunkedDecodeResult {
  /** Decoded body bytes, as views into the input (never copies). */
  data: Uint8Array[];
  /** Bytes of the input consumed; less than its length only when `done`. */
  consumed: number;
  /** Whether the last chunk and the trailer section have been read. */
  done: boolean;
}

const SIZE = 0;
const DATA = 1;
const DATA_CR = 2;
const DATA_LF = 3;
const TRAILER = 4;
const DONE = 5;

const HEX_SIZE = /^0*([0-9A-Fa-f]{1,13})[ \t]*(?:;.*)?$/;

/**
 * Decodes a chunked body pushed in pieces of any size: chunk extensions are
 * accepted and ignored, trailers are collected, sizes are bounded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChunkedDecoder } from "./chunked.ts";
 *
 * const decoder = new ChunkedDecoder();
 * const input = new TextEncoder().encode("3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n");
 * const { data, done } = decoder.push(input);
 * assert.ok(done);
 * assert.equal(new TextDecoder().decode(data[0]), "abc");
 * assert.equal(decoder.trailers.get("x-t"), "1");
 * ```
 */
export class ChunkedDecoder {
  #state = SIZE;
  #line = "";
  #remaining = 0;
  #trailerSize = 0;
  #trailers = new Map<string, string>();
  #maxLineSize: number;
  #maxTrailerSize: number;

  /**
   * Creates a decoder for one chunked body.
   *
   * @param options Size limits.
   *
   * @example Bounding what a peer can make us buffer
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerProtocolError } from "./errors.ts";
   * import { ChunkedDecoder } from "./chunked.ts";
   *
   * const decoder = new ChunkedDecoder({ maxLineSize: 16 });
   * const hostile = new TextEncoder().encode("1".repeat(64));
   * assert.throws(() => decoder.push(hostile), DockerProtocolError);
   * ```
   */
  constructor(options: ChunkedDecoderOptions = {}) {
    this.#maxLineSize = options.maxLineSize ?? 4096;
    this.#maxTrailerSize = options.maxTrailerSize ?? 65536;
  }

  /**
   * Whether the whole body has been decoded.
   *
   * @returns `true` after the last chunk and the trailers.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ChunkedDecoder } from "./chunked.ts";
   *
   * const decoder = new ChunkedDecoder();
   * decoder.push(new TextEncoder().encode("2\r\nhi\r\n"));
   * assert.equal(decoder.done, false);
   * decoder.push(new TextEncoder().encode("0\r\n\r\n"));
   * assert.equal(decoder.done, true);
   * ```
   */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Trailer fields, keyed by lower-cased name (complete once `done`).
   *
   * @returns The trailers read so far.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ChunkedDecoder } from "./chunked.ts";
   *
   * const decoder = new ChunkedDecoder();
   * decoder.push(new TextEncoder().encode("0\r\nX-Checksum: abc\r\n\r\n"));
   * assert.equal(decoder.trailers.get("x-checksum"), "abc");
   * ```
   */
  get trailers(): ReadonlyMap<string, string> {
    return this.#trailers;
  }

  /**
   * Decodes the next piece of the body.
   *
   * @param input Bytes as they arrived.
   * @returns The body bytes found, how much input was used, and whether the body ended.
   * @throws {DockerProtocolError} For an invalid chunk size, a missing CRLF or oversize lines.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ChunkedDecoder } from "./chunked.ts";
   *
   * // The body ends inside the input: what follows belongs to the next response.
   * const decoder = new ChunkedDecoder();
   * const input = new TextEncoder().encode("5\r\nhello\r\n0\r\n\r\nHTTP/1.1");
   * const { data, consumed, done } = decoder.push(input);
   * assert.ok(done);
   * assert.equal(new TextDecoder().decode(data[0]), "hello");
   * assert.equal(input.length - consumed, "HTTP/1.1".length);
   * ```
   */
  push(input: Uint8Array): ChunkedDecodeResult {
    const data: Uint8Array[] = [];
    const length = input.length;
    let i = 0;
    while (i < length && this.#state !== DONE) {
      switch (this.#state) {
        case SIZE:
        case TRAILER: {
          const newline = input.indexOf(0x0a, i);
          const end = newline === -1 ? length : newline;
          const limit = this.#state === SIZE ? this.#maxLineSize : this.#maxTrailerSize;
          if (this.#line.length + (end - i) > limit) {
            throw new DockerProtocolError(
              this.#state === SIZE
                ? `Chunk size line exceeds ${limit} bytes`
                : `Chunked trailers exceed ${limit} bytes`,
            );
          }
          this.#line += latin1(input.subarray(i, end));
          if (newline === -1) {
            i = length;
            break;
          }
          i = newline + 1;
          let line = this.#line;
          this.#line = "";
          if (line.endsWith("\r")) line = line.slice(0, -1);
          if (this.#state === SIZE) this.#onSizeLine(line);
          else this.#onTrailerLine(line);
          break;
        }
        case DATA: {
          const take = Math.min(this.#remaining, length - i);
          data.push(input.subarray(i, i + take));
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = DATA_CR;
          break;
        }
        case DATA_CR: {
          const byte = input[i++];
          if (byte === 0x0d) this.#state = DATA_LF;
          else if (byte === 0x0a) this.#state = SIZE;
          else throw new DockerProtocolError("Chunk data is not followed by CRLF");
          break;
        }
        case DATA_LF: {
          if (input[i++] !== 0x0a) {
            throw new DockerProtocolError("Chunk data is not followed by CRLF");
          }
          this.#state = SIZE;
          break;
        }
      }
    }
    return { data, consumed: i, done: this.#state === DONE };
  }

  #onSizeLine(line: string): void {
    const match = HEX_SIZE.exec(line);
    if (match === null) {
      throw new DockerProtocolError(`Invalid chunk size line ${JSON.stringify(clip(line))}`);
    }
    const size = parseInt(match[1]!, 16);
    if (size === 0) {
      this.#state = TRAILER;
    } else {
      this.#remaining = size;
      this.#state = DATA;
    }
  }

  #onTrailerLine(line: string): void {
    if (line === "") {
      this.#state = DONE;
      return;
    }
    this.#trailerSize += line.length + 2;
    if (this.#trailerSize > this.#maxTrailerSize) {
      throw new DockerProtocolError(`Chunked trailers exceed ${this.#maxTrailerSize} bytes`);
    }
    addHeaderLine(line, this.#trailers);
  }
}
