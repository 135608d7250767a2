/**
 * Decoder for `Transfer-Encoding: chunked` bodies, strict per RFC 9112 §7.1:
 * a chunk-size line is hex digits, then extensions
 * `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`, then
 * CRLF, and is checked whole before any byte of its chunk is handed out.
 * Trailer lines are fields, so like header lines they may end with a bare LF
 * (RFC 9112 §2.2); the chunk-size line and the CRLF after chunk data may not.
 *
 * @module
 */

import { clip } from "../util/clip.ts";
import { addHeaderLine, invalidCharacter, latin1, TCHAR } from "./_headers.ts";
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

// qdtext and quoted-pair of RFC 9110 §5.6.4 (a bare CR or any other CTL but HTAB fails).
const QUOTED =
  '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t\\x20-\\x7e\\x80-\\xff])*"';
const EXTENSION = `[ \\t]*;[ \\t]*${TCHAR}+(?:[ \\t]*=[ \\t]*(?:${TCHAR}+|${QUOTED}))?`;
// Unambiguous (every repetition starts at a ";", a quoted string ends at its
// closing quote), so a hostile line cannot make it backtrack much. At most 13
// significant hex digits keeps the size a safe integer.
const SIZE_LINE = new RegExp(`^0*([0-9A-Fa-f]{1,13})(?:${EXTENSION})*\\r$`);

/**
 * Decodes a chunked body pushed in pieces of any size: chunk extensions are
 * checked and ignored, trailers are collected, sizes are bounded.
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
          const line = this.#line;
          this.#line = "";
          if (this.#state === SIZE) this.#onSizeLine(line);
          else this.#onTrailerLine(line.endsWith("\r") ? line.slice(0, -1) : line);
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
          if (input[i++] !== 0x0d) {
            throw new DockerProtocolError("Chunk data is not followed by CRLF");
          }
          this.#state = DATA_LF;
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

  /** Checks a chunk-size line (with its CR, without its LF) and starts its chunk. */
  #onSizeLine(line: string): void {
    const match = SIZE_LINE.exec(line);
    if (match === null) throw invalidSizeLine(line);
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
    addHeaderLine(line, this.#trailers, "trailer");
  }
}

function invalidSizeLine(line: string): DockerProtocolError {
  if (!line.endsWith("\r")) {
    const text = JSON.stringify(clip(line));
    return new DockerProtocolError(`Chunk size line ${text} does not end with CRLF`);
  }
  const content = line.slice(0, -1);
  const bad = invalidCharacter(content);
  const text = JSON.stringify(clip(content));
  return new DockerProtocolError(
    bad === undefined
      ? `Invalid chunk size line ${text}`
      : `Invalid chunk size line ${text}: ${bad}`,
  );
}
