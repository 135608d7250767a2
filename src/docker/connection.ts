/**
 * Connecting to an endpoint (unix, TCP, TLS, ssh), and one HTTP/1.1
 * connection to the engine: writes a request, feeds the bytes read into a
 * {@linkcode ResponseParser}, hands out the head and body pieces. A failure
 * on a TLS or ssh endpoint is worded by `_remote.ts`.
 *
 * @module
 */

import { connectProcess } from "../process_socket.ts";
import { connectTcp, connectTls, connectUnix, type Socket, socketErrorKind } from "../transport.ts";
import { describeFailure, sshArguments, tlsConnectOptions, tlsReason } from "./_remote.ts";
import { DockerProtocolError } from "./errors.ts";
import { type ResponseEvent, type ResponseHead, ResponseParser } from "./http_response.ts";
import {
  connectFailureReason,
  connectionError,
  type DockerEndpoint,
  formatDockerEndpoint,
} from "./endpoint.ts";

const SLAB_SIZE = 65536;
const MIN_READ = 16384;

/**
 * Opens a connection to an endpoint: a unix socket, TCP (with TLS when
 * `endpoint.tls` is set: verified, with the client certificate), or an
 * `ssh` process running `docker system dial-stdio` on the remote host.
 *
 * @param endpoint Where the engine listens.
 * @param signal Aborts a TCP or TLS connect in progress.
 * @returns The connected socket.
 * @throws {Error} Whose message says what failed and how to fix it (a TLS
 * certificate the other side refuses, `ssh` missing), with the runtime's
 * error as `cause`; plain socket errors (refused, missing) as they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectEndpoint } from "./connection.ts";
 *
 * await assert.rejects(
 *   connectEndpoint({ transport: "unix", path: "/nonexistent/docker.sock" }),
 *   Deno.errors.NotFound,
 * );
 * ```
 */
export async function connectEndpoint(
  endpoint: DockerEndpoint,
  signal?: AbortSignal,
): Promise<Socket> {
  if (endpoint.transport === "unix") return await connectUnix(endpoint.path);
  if (endpoint.transport === "ssh") {
    try {
      return await connectProcess("ssh", sshArguments(endpoint));
    } catch (error) {
      const why = socketErrorKind(error) === "missing"
        ? "it is not on PATH; install the OpenSSH client"
        : (error as Error)?.message ?? String(error);
      throw new Error(`cannot run "ssh": ${why}`, { cause: error });
    }
  }
  const { hostname, port, tls } = endpoint;
  if (tls === undefined) return await connectTcp(hostname, port, signal);
  try {
    return await connectTls(hostname, port, tlsConnectOptions(tls, signal));
  } catch (error) {
    const reason = describeFailure(endpoint, error, true);
    throw reason === undefined ? error : new Error(reason, { cause: error });
  }
}

/**
 * Thrown by {@linkcode HttpConnection.send} when a reused connection turned
 * out to be closed by the peer before any byte of the response arrived, so
 * the request can be retried on a new connection.
 */
export class StaleConnectionError extends Error {
  /** Whether writing the request failed (so the engine cannot have acted on it). */
  readonly unsent: boolean;

  /**
   * @param unsent Whether the request was not written.
   * @param options Standard error options (`cause`).
   */
  constructor(unsent: boolean, options?: ErrorOptions) {
    super("Connection was closed by the engine while idle", options);
    this.name = "StaleConnectionError";
    this.unsent = unsent;
  }
}

/** Options for {@linkcode HttpConnection.send}. */
export interface SendOptions {
  /** Method of the request (a `HEAD` response has no body). */
  method: string;
  /** Largest response head accepted, in bytes. */
  maxHeaderSize: number;
}

/**
 * A keep-alive HTTP/1.1 connection carrying one request at a time.
 *
 * Reads go into a slab that is only ever appended to, so the body pieces
 * handed out stay valid without copying.
 */
export class HttpConnection {
  #conn: Socket;
  #endpoint: DockerEndpoint;
  #slab = new Uint8Array(SLAB_SIZE);
  #offset = 0;
  #parser: ResponseParser | undefined;
  #events: ResponseEvent[] = [];
  #next = 0;
  #received = 0;
  #ended = false;
  #keepAlive = false;
  #closed = false;
  #requests = 0;
  /** When the connection last went idle (for the pool's idle timeout). */
  idleSince = 0;

  /**
   * @param conn The connected socket; this connection owns it.
   * @param endpoint Where it is connected (for error messages).
   */
  constructor(conn: Socket, endpoint: DockerEndpoint) {
    this.#conn = conn;
    this.#endpoint = endpoint;
  }

  /**
   * Whether the socket was closed.
   *
   * @returns `true` after {@linkcode HttpConnection.close}.
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Whether the last response ended cleanly on a keep-alive connection.
   *
   * @returns `true` when another request may be sent.
   */
  get reusable(): boolean {
    return !this.#closed && this.#ended && this.#keepAlive && this.#parser?.excess === 0;
  }

  /**
   * Whether a request was already sent on this connection.
   *
   * @returns `true` for a reused connection.
   */
  get used(): boolean {
    return this.#requests > 0;
  }

  /**
   * Writes a request and reads the head of its response.
   *
   * @param request The encoded request.
   * @param options The method and the head size limit.
   * @returns The response head; the body follows through {@linkcode HttpConnection.read}.
   * @throws {StaleConnectionError} When a reused connection was closed by the peer.
   */
  async send(request: Uint8Array, options: SendOptions): Promise<ResponseHead> {
    const reused = this.#requests++ > 0;
    this.#parser = new ResponseParser(options);
    this.#events = [];
    this.#next = 0;
    this.#received = 0;
    this.#ended = false;
    try {
      let written = 0;
      while (written < request.length) {
        written += await this.#conn.write(written === 0 ? request : request.subarray(written));
      }
    } catch (error) {
      if (reused && !this.#closed) throw new StaleConnectionError(true, { cause: error });
      throw this.#ioError(error);
    }
    for (;;) {
      while (this.#next < this.#events.length) {
        const event = this.#events[this.#next++]!;
        if (event.type === "head") return event.head;
      }
      if (!await this.#fill(reused)) {
        throw new DockerProtocolError("Connection closed before a response was received");
      }
    }
  }

  /**
   * Reads the next piece of the response body.
   *
   * @returns The bytes, or `null` at the end of the body.
   */
  async read(): Promise<Uint8Array | null> {
    for (;;) {
      while (this.#next < this.#events.length) {
        const event = this.#events[this.#next++]!;
        if (event.type === "data") {
          if (event.data.length > 0) return event.data;
        } else if (event.type === "end") {
          this.#ended = true;
          this.#keepAlive = event.keepAlive;
          this.#events = [];
          this.#next = 0;
          return null;
        }
      }
      if (this.#ended) return null;
      if (!await this.#fill(false)) {
        throw new DockerProtocolError("Connection closed inside the response body");
      }
    }
  }

  /** Closes the socket (idempotent); pending reads reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime.
    }
  }

  /** Reads once and parses; returns false at end of stream. */
  async #fill(reused: boolean): Promise<boolean> {
    if (SLAB_SIZE - this.#offset < MIN_READ) {
      this.#slab = new Uint8Array(SLAB_SIZE);
      this.#offset = 0;
    }
    const view = this.#slab.subarray(this.#offset);
    let n: number | null;
    try {
      n = await this.#conn.read(view);
    } catch (error) {
      if (reused && this.#received === 0 && !this.#closed) {
        throw new StaleConnectionError(false, { cause: error });
      }
      throw this.#ioError(error);
    }
    const parser = this.#parser!;
    if (n === null) {
      if (reused && this.#received === 0) throw new StaleConnectionError(false);
      this.close();
      const endpoint = this.#endpoint;
      if (this.#received === 0 && endpoint.transport === "tcp" && endpoint.tls !== undefined) {
        // A TLS 1.3 engine refuses a client certificate after the client's handshake is done.
        throw connectionError([{
          endpoint: formatDockerEndpoint(endpoint),
          reason: tlsReason(endpoint, "closed", "no answer"),
        }], undefined);
      }
      this.#events = parser.finish();
      this.#next = 0;
      return this.#events.length > 0;
    }
    this.#received += n;
    this.#offset += n;
    const events = parser.push(view.subarray(0, n));
    if (this.#next >= this.#events.length) {
      this.#events = events;
      this.#next = 0;
    } else {
      this.#events.push(...events);
    }
    return true;
  }

  #ioError(error: unknown): Error {
    if (this.#closed) return error as Error;
    const endpoint = formatDockerEndpoint(this.#endpoint);
    const fresh = this.#requests === 1 && this.#received === 0;
    const reason = describeFailure(this.#endpoint, error, fresh) ?? connectFailureReason(error);
    return connectionError([{ endpoint, reason }], error);
  }
}
