/**
 * The HTTP/1.1 response parser: pure and incremental over bytes (status
 * line, headers, `Content-Length`, chunked and close-delimited bodies),
 * strict per RFC 9112. The deliberate leniencies are the ones RFC 9112 §2.2
 * allows a recipient: a bare LF ends a status or field line, and empty lines
 * before a status line (also between an interim response and the final one)
 * are skipped, up to a bound. A bare CR or another control character outside
 * a body is an error, and so is whitespace at the start of a header line,
 * found as soon as it arrives.
 *
 * @module
 */

import { concat } from "../util/bytes.ts";
import { clip } from "../util/clip.ts";
import { addHeaderLine, invalidCharacter } from "./_headers.ts";
import { ChunkedDecoder } from "./chunked.ts";
import { DockerProtocolError } from "./errors.ts";

const headDecoder = new TextDecoder();
// The reason phrase is HTAB, SP, VCHAR and obs-text (RFC 9112 §4): no other control character.
// deno-lint-ignore no-control-regex
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;
// RFC 9112 §2.2 asks to skip "at least one" empty line before a status line;
// a few more are tolerated, an endless stream of them is not.
const MAX_EMPTY_LINES = 8;

/** The status line and header fields of a response. */
export interface ResponseHead {
  /** Status code, such as `200`. */
  status: number;
  /** Reason phrase, possibly empty. */
  statusText: string;
  /** Header fields keyed by lower-cased name; repeated fields joined with `", "`. */
  headers: ReadonlyMap<string, string>;
}

/** Something {@linkcode ResponseParser} found in the bytes pushed into it. */
export type ResponseEvent =
  | {
    /** The final (non-1xx) response head was read. */
    type: "head";
    /** Status and headers. */
    head: ResponseHead;
  }
  | {
    /** A piece of the body, as a view into the pushed bytes. */
    type: "data";
    /** The bytes. */
    data: Uint8Array;
  }
  | {
    /** The response is complete. */
    type: "end";
    /** Whether the connection may carry another request. */
    keepAlive: boolean;
    /** Trailer fields of a chunked body (else empty). */
    trailers: ReadonlyMap<string, string>;
  };

/** Options for {@linkcode ResponseParser}. */
export interface ResponseParserOptions {
  /**
   * Method of the request this response answers (a `HEAD` response has no body).
   *
   * @default {"GET"}
   */
  method?: string;
  /**
   * Largest response head (status line and headers) accepted, in bytes.
   *
   * @default {65536}
   */
  maxHeaderSize?: number;
}

const START = 0;
const HEAD = 1;
const LENGTH = 2;
const CHUNKED = 3;
const CLOSE = 4;
const DONE = 5;
const NO_TRAILERS: ReadonlyMap<string, string> = new Map();

/**
 * Incremental parser of one HTTP/1.1 response: push bytes as they arrive,
 * in pieces of any size, and get events (head, data, end) back. It does no
 * I/O and never blocks; malformed input throws {@linkcode DockerProtocolError}.
 *
 * Data events are views into the pushed buffers, not copies.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ResponseParser } from "./http_response.ts";
 *
 * const parser = new ResponseParser();
 * const bytes = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
 * const events = parser.push(bytes);
 * assert.deepEqual(events.map((e) => e.type), ["head", "data", "end"]);
 * ```
 */
export class ResponseParser {
  #state = START;
  #method: string;
  #maxHeaderSize: number;
  #emptyLines = 0;
  #pendingCr = false;
  #interim = false;
  #headParts: Uint8Array[] = [];
  #headSize = 0;
  #lineLength = 0;
  #lastByte = 0;
  #headLines = 0;
  #remaining = 0;
  #keepAlive = true;
  #chunked: ChunkedDecoder | undefined;
  #excess = 0;

  /**
   * Creates a parser for one response.
   *
   * @param options The request method and the head size limit.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ResponseParser } from "./http_response.ts";
   *
   * // A HEAD response announces a length but carries no body.
   * const parser = new ResponseParser({ method: "HEAD" });
   * const head = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 512\r\n\r\n");
   * assert.deepEqual(parser.push(head).map((e) => e.type), ["head", "end"]);
   * ```
   */
  constructor(options: ResponseParserOptions = {}) {
    this.#method = options.method ?? "GET";
    this.#maxHeaderSize = options.maxHeaderSize ?? 65536;
  }

  /**
   * Whether the response is complete.
   *
   * @returns `true` once the end event was produced.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ResponseParser } from "./http_response.ts";
   *
   * const parser = new ResponseParser();
   * parser.push(new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nOK"));
   * assert.equal(parser.done, false);
   * parser.push(new TextEncoder().encode("OK"));
   * assert.equal(parser.done, true);
   * ```
   */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Bytes pushed after the end of the response (which must not happen on a
   * connection that is to be reused).
   *
   * @returns Their count.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ResponseParser } from "./http_response.ts";
   *
   * const parser = new ResponseParser();
   * parser.push(new TextEncoder().encode("HTTP/1.1 204 No Content\r\n\r\njunk"));
   * assert.equal(parser.excess, 4); // this connection must not be reused
   * ```
   */
  get excess(): number {
    return this.#excess;
  }

  /**
   * Parses the next bytes of the response.
   *
   * @param input Bytes as they arrived.
   * @returns The events they complete, in order.
   * @throws {DockerProtocolError} For a malformed or oversize head or body framing (before
   *   any byte of a chunk with a malformed chunk-size line is handed out).
   *
   * @example Bytes arriving one at a time
   * ```ts
   * import assert from "node:assert/strict";
   * import { ResponseParser } from "./http_response.ts";
   *
   * const parser = new ResponseParser();
   * const body: string[] = [];
   * const response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
   * for (const byte of new TextEncoder().encode(response)) {
   *   for (const event of parser.push(new Uint8Array([byte]))) {
   *     if (event.type === "head") assert.equal(event.head.status, 200);
   *     if (event.type === "data") body.push(new TextDecoder().decode(event.data));
   *     if (event.type === "end") assert.ok(event.keepAlive);
   *   }
   * }
   * assert.equal(body.join(""), "hi");
   * ```
   */
  push(input: Uint8Array): ResponseEvent[] {
    const events: ResponseEvent[] = [];
    const length = input.length;
    let i = 0;
    while (i < length) {
      switch (this.#state) {
        case START: {
          // Empty lines before a status line (RFC 9112 §2.2), each CRLF or a bare LF.
          const byte = input[i]!;
          if (byte === 0x0a) {
            if (++this.#emptyLines > MAX_EMPTY_LINES) {
              throw new DockerProtocolError(
                `Response has more than ${MAX_EMPTY_LINES} empty lines before its status line`,
              );
            }
            this.#pendingCr = false;
            i++;
          } else if (this.#pendingCr) {
            throw new DockerProtocolError(
              "Invalid response: a bare CR (one not followed by LF) before the status line",
            );
          } else if (byte === 0x0d) {
            this.#pendingCr = true;
            i++;
          } else {
            this.#state = HEAD;
          }
          break;
        }
        case HEAD: {
          const end = this.#findHeadEnd(input, i);
          const size = this.#headSize + (end === -1 ? length : end) - i;
          if (size > this.#maxHeaderSize) {
            throw new DockerProtocolError(
              `Response head exceeds ${this.#maxHeaderSize} bytes`,
            );
          }
          if (end === -1) {
            this.#headParts.push(input.slice(i));
            this.#headSize = size;
            i = length;
            break;
          }
          const bytes = this.#headParts.length === 0
            ? input.subarray(i, end)
            : concat([...this.#headParts, input.subarray(i, end)]);
          this.#headParts = [];
          this.#headSize = 0;
          i = end;
          this.#onHead(headDecoder.decode(bytes), events);
          break;
        }
        case LENGTH: {
          const take = Math.min(this.#remaining, length - i);
          events.push({ type: "data", data: input.subarray(i, i + take) });
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#end(events, NO_TRAILERS);
          break;
        }
        case CHUNKED: {
          const chunked = this.#chunked!;
          const result = chunked.push(i === 0 ? input : input.subarray(i));
          for (const data of result.data) events.push({ type: "data", data });
          i += result.consumed;
          if (result.done) this.#end(events, chunked.trailers);
          break;
        }
        case CLOSE: {
          events.push({ type: "data", data: i === 0 ? input : input.subarray(i) });
          i = length;
          break;
        }
        default: {
          this.#excess += length - i;
          i = length;
        }
      }
    }
    return events;
  }

  /**
   * Tells the parser the peer closed the connection.
   *
   * @returns The end event of a body delimited by the close (or nothing).
   * @throws {DockerProtocolError} When the response was not complete.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerProtocolError } from "./errors.ts";
   * import { ResponseParser } from "./http_response.ts";
   *
   * // No length and not chunked: the body ends when the connection closes.
   * const parser = new ResponseParser();
   * parser.push(new TextEncoder().encode("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall"));
   * const [end] = parser.finish();
   * assert.equal(end?.type, "end");
   *
   * const cut = new ResponseParser();
   * cut.push(new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"));
   * assert.throws(() => cut.finish(), DockerProtocolError);
   * ```
   */
  finish(): ResponseEvent[] {
    switch (this.#state) {
      case DONE:
        return [];
      case CLOSE: {
        const events: ResponseEvent[] = [];
        this.#end(events, NO_TRAILERS);
        return events;
      }
      case START:
        throw new DockerProtocolError(
          this.#interim
            ? "Connection closed after an interim (1xx) response, before the final one"
            : "Connection closed before a response was received",
        );
      case HEAD:
        throw new DockerProtocolError("Connection closed inside the response head");
      case LENGTH:
        throw new DockerProtocolError(
          `Connection closed with ${this.#remaining} bytes of the response body missing`,
        );
      default:
        throw new DockerProtocolError("Connection closed inside a chunked response body");
    }
  }

  #end(events: ResponseEvent[], trailers: ReadonlyMap<string, string>): void {
    this.#state = DONE;
    events.push({ type: "end", keepAlive: this.#keepAlive, trailers });
  }

  /**
   * Returns the index just past the blank line ending the head, or -1.
   * Whitespace starting a line after the status line is rejected here, as
   * soon as it arrives: no line completes it into a valid head.
   */
  #findHeadEnd(input: Uint8Array, from: number): number {
    // A line began with the first byte of this piece (the last one ended with LF).
    if (from === 0 && this.#headSize > 0 && this.#lineLength === 0) this.#checkLineStart(input, 0);
    let lineStart = from - this.#lineLength;
    for (let i = input.indexOf(0x0a, from); i !== -1; i = input.indexOf(0x0a, i + 1)) {
      const lineLength = i - lineStart;
      if (
        lineLength === 0 ||
        (lineLength === 1 && (i === 0 ? this.#lastByte : input[i - 1]) === 0x0d)
      ) {
        this.#lineLength = 0;
        this.#headLines = 0;
        return i + 1;
      }
      lineStart = i + 1;
      this.#headLines++;
      if (lineStart < input.length) this.#checkLineStart(input, lineStart);
    }
    this.#lineLength = input.length - lineStart;
    this.#lastByte = input[input.length - 1] ?? this.#lastByte;
    return -1;
  }

  #checkLineStart(input: Uint8Array, at: number): void {
    const byte = input[at];
    if (byte !== 0x20 && byte !== 0x09) return;
    const end = input.indexOf(0x0a, at);
    const line = JSON.stringify(
      clip(headDecoder.decode(input.subarray(at, end === -1 ? undefined : end))),
    );
    throw new DockerProtocolError(
      this.#headLines > 1
        ? `Folded header line ${line} is not allowed`
        : `Invalid response: whitespace between the status line and the first header (${line})`,
    );
  }

  #onHead(text: string, events: ResponseEvent[]): void {
    const lines = text.split("\n");
    const statusLine = trimCr(lines[0]!);
    const match = STATUS_LINE.exec(statusLine);
    if (match === null) {
      const bad = invalidCharacter(statusLine);
      const quoted = JSON.stringify(clip(statusLine));
      throw new DockerProtocolError(
        bad === undefined
          ? `Invalid status line ${quoted}`
          : `Invalid status line ${quoted}: ${bad}`,
      );
    }
    const headers = new Map<string, string>();
    // The head ends with an empty line, followed by the empty string after its "\n".
    for (let n = 1; n < lines.length - 2; n++) addHeaderLine(trimCr(lines[n]!), headers);
    const status = Number(match[2]);
    if (status === 101) {
      // What follows a 101 is another protocol, and this client never asks to switch.
      throw new DockerProtocolError(
        "Unexpected 101 Switching Protocols response: the request did not ask to upgrade",
      );
    }
    if (status < 200) {
      // Interim (1xx) response: the final one follows, maybe after empty lines.
      this.#interim = true;
      this.#emptyLines = 0;
      this.#state = START;
      return;
    }

    const connection = headers.get("connection")?.toLowerCase() ?? "";
    this.#keepAlive = match[1] === "1"
      ? !/(?:^|,)\s*close\s*(?:,|$)/.test(connection)
      : /(?:^|,)\s*keep-alive\s*(?:,|$)/.test(connection);
    events.push({ type: "head", head: { status, statusText: match[3] ?? "", headers } });

    if (this.#method === "HEAD" || status === 204 || status === 304) {
      this.#end(events, NO_TRAILERS);
      return;
    }
    const transferEncoding = headers.get("transfer-encoding");
    const contentLength = headers.get("content-length");
    if (transferEncoding !== undefined) {
      // Both framings at once is a smuggling vector: trust chunked, drop the connection after.
      if (contentLength !== undefined) this.#keepAlive = false;
      const codings = transferEncoding.toLowerCase().split(",");
      if (codings[codings.length - 1]!.trim() === "chunked") {
        this.#chunked = new ChunkedDecoder({ maxTrailerSize: this.#maxHeaderSize });
        this.#state = CHUNKED;
      } else {
        this.#keepAlive = false;
        this.#state = CLOSE;
      }
      return;
    }
    if (contentLength !== undefined) {
      this.#remaining = parseContentLength(contentLength);
      this.#state = LENGTH;
      if (this.#remaining === 0) this.#end(events, NO_TRAILERS);
      return;
    }
    this.#keepAlive = false;
    this.#state = CLOSE;
  }
}

function trimCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

function parseContentLength(value: string): number {
  let length: number | undefined;
  for (const part of value.split(",")) {
    const text = part.trim();
    const n = /^[0-9]{1,15}$/.test(text) ? Number(text) : NaN;
    if (Number.isNaN(n) || (length !== undefined && n !== length)) {
      throw new DockerProtocolError(`Invalid Content-Length ${JSON.stringify(clip(value))}`);
    }
    length = n;
  }
  return length!;
}
