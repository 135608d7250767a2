/**
 * A response from the engine whose body is being read, and the mapping of
 * any failure on the way to the client's documented errors.
 *
 * @module
 */

import { concat } from "../util/bytes.ts";
import type { CallScope } from "./_scope.ts";
import { type HttpConnection, StaleConnectionError } from "./connection.ts";
import type { ConnectionPool } from "./connection_pool.ts";
import { DockerConnectionError, DockerError, DockerProtocolError } from "./errors.ts";
import type { ResponseHead } from "./http_response.ts";

const textDecoder = new TextDecoder();

/** A response whose body is being read; owns its connection until the end. */
export class DockerResponse {
  readonly head: ResponseHead;
  readonly path: string;
  #pool: ConnectionPool;
  #conn: HttpConnection;
  #scope: CallScope;
  #done = false;

  constructor(
    pool: ConnectionPool,
    conn: HttpConnection,
    scope: CallScope,
    head: ResponseHead,
    path: string,
  ) {
    this.#pool = pool;
    this.#conn = conn;
    this.#scope = scope;
    this.head = head;
    this.path = path;
  }

  /** Next body piece, or null at the end (the connection then goes back to the pool). */
  async read(): Promise<Uint8Array | null> {
    if (this.#done) return null;
    try {
      const piece = await this.#conn.read();
      if (piece === null) {
        this.#done = true;
        this.#scope.dispose();
        this.#pool.release(this.#conn);
      }
      return piece;
    } catch (error) {
      this.cancel();
      if (this.#scope.aborted) throw this.#scope.reason;
      throw asClientError(error, "read the Docker response");
    }
  }

  /** Ends the request early: the connection is destroyed. */
  cancel(): void {
    if (this.#done) return;
    this.#done = true;
    this.#scope.dispose();
    this.#pool.destroy(this.#conn);
  }

  /** The whole body. */
  async bytes(): Promise<Uint8Array> {
    const first = await this.read();
    if (first === null) return new Uint8Array(0);
    let next = await this.read();
    if (next === null) return first;
    const parts = [first];
    while (next !== null) {
      parts.push(next);
      next = await this.read();
    }
    return concat(parts);
  }

  /** The whole body parsed as JSON; invalid JSON is a {@linkcode DockerProtocolError}. */
  async json<T>(): Promise<T> {
    const text = textDecoder.decode(await this.bytes());
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new DockerProtocolError(
        `Invalid JSON in the response to "${this.path}": ${JSON.stringify(text.slice(0, 80))}`,
        { cause },
      );
    }
  }

  /** Reads the body to its end and drops it. */
  async discard(): Promise<void> {
    while (await this.read() !== null) { /* drain so the connection can be reused */ }
  }
}

/**
 * Passes the client's own errors (and aborts) through; wraps anything else,
 * such as a socket error, in a {@linkcode DockerConnectionError}.
 *
 * @param error What was thrown.
 * @param action What the call was doing, for the message.
 * @returns The error to throw.
 */
export function asClientError(error: unknown, action: string): unknown {
  if (
    error instanceof DockerError || error instanceof DockerConnectionError ||
    error instanceof DockerProtocolError || error instanceof TypeError ||
    error instanceof RangeError || error instanceof DOMException
  ) return error;
  if (error instanceof StaleConnectionError) {
    return new DockerConnectionError(`Cannot ${action}: the engine closed the connection`, {
      attempts: [],
      cause: error,
    });
  }
  return new DockerConnectionError(`Cannot ${action}: ${(error as Error)?.message ?? error}`, {
    attempts: [],
    cause: error,
  });
}
