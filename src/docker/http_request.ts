/**
 * The HTTP/1.1 request encoder: method, target, headers and body into one
 * buffer, rejecting anything that would break the framing.
 *
 * @module
 */

import { clip } from "../util/clip.ts";
import { isToken } from "./_headers.ts";

/** A request to encode with {@linkcode encodeRequest}. */
export interface HttpRequest {
  /** Method, such as `"GET"`. */
  method: string;
  /** Origin-form target: path and query, already percent-encoded. */
  path: string;
  /**
   * Value of the `Host` header.
   *
   * @default {"docker"}
   */
  host?: string;
  /** Extra header fields; names are sent as given. */
  headers?: Readonly<Record<string, string>>;
  /** Body, sent with a `Content-Length`. */
  body?: Uint8Array | string;
}

const encoder = new TextEncoder();
const TARGET = /^\/[!-~]*$/;
const FIELD_VALUE = /^[\t -~]*$/;
const BODYLESS_METHODS = new Set(["GET", "HEAD", "DELETE", "OPTIONS"]);

/**
 * Encodes a request (head and body) into one buffer, so it is sent with a
 * single write.
 *
 * @param request Method, target, headers and body.
 * @returns The bytes to write.
 * @throws {TypeError} For a method, target or header that would break the framing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeRequest } from "./http_request.ts";
 *
 * const bytes = encodeRequest({ method: "GET", path: "/_ping" });
 * assert.equal(new TextDecoder().decode(bytes), "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n");
 * ```
 */
export function encodeRequest(request: HttpRequest): Uint8Array {
  const { method, path } = request;
  if (!isToken(method)) throw new TypeError(`Cannot send request: invalid method "${method}"`);
  if (!TARGET.test(path)) {
    throw new TypeError(`Cannot send request: invalid target ${JSON.stringify(clip(path))}`);
  }
  const host = request.host ?? "docker";
  if (!FIELD_VALUE.test(host)) {
    throw new TypeError(`Cannot send request: invalid host ${JSON.stringify(clip(host))}`);
  }
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
  const headers = request.headers;
  if (headers !== undefined) {
    for (const name in headers) {
      const value = headers[name]!;
      if (!isToken(name) || !FIELD_VALUE.test(value)) {
        throw new TypeError(`Cannot send request: invalid header "${name}"`);
      }
      head += `${name}: ${value}\r\n`;
    }
  }
  const raw = request.body;
  if (raw === undefined) {
    if (!BODYLESS_METHODS.has(method)) head += "Content-Length: 0\r\n";
    return encoder.encode(head + "\r\n");
  }
  const body = typeof raw === "string" ? encoder.encode(raw) : raw;
  head += `Content-Length: ${body.length}\r\n\r\n`;
  // The head is ASCII (checked above), so its byte length is its string length.
  const out = new Uint8Array(head.length + body.length);
  encoder.encodeInto(head, out);
  out.set(body, head.length);
  return out;
}
