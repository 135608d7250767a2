/**
 * The only place that opens sockets: `Deno.connect`/`Deno.connectTls`/`Deno.listen`
 * on Deno, `node:net`/`node:tls` on Node.js, behind one small interface.
 * Everything above it (frames, the Docker client's HTTP) reads and writes a
 * {@linkcode Socket}.
 *
 * Over ~400 lines because each way to connect has its Deno and its Node.js
 * half side by side, so the two stay alike. The byte stream over a child
 * process (`ssh … docker system dial-stdio`) is in `process_socket.ts`.
 *
 * @module
 */

import type * as NodeNet from "node:net";
import type * as NodeTls from "node:tls";

/** A connected byte stream (a `Deno.Conn` satisfies it). */
export interface Socket {
  /** Reads into `p`; resolves to the count read, or `null` at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves to the count written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes both directions. */
  close(): void;
}

/** A connection a {@linkcode Listener} accepted: a socket, and where it came from and arrived. */
export interface AcceptedSocket extends Socket {
  /** The local address it arrived at (`10.89.0.1`; IPv4-mapped IPv6 unwrapped). */
  readonly localAddress: string;
  /** The peer's address. */
  readonly remoteAddress: string;
}

/** A TCP listener. */
export interface Listener {
  /** The bound address. */
  readonly addr: { hostname: string; port: number };
  /** Accepts the next connection; rejects with a "closed" error once `close()` ran. */
  accept(): Promise<AcceptedSocket>;
  /** Stops listening. */
  close(): void;
  /** Lets the listener keep the process alive again (the default). */
  ref(): void;
  /** Stops the listener (and an accept under way) from keeping the process alive. */
  unref(): void;
}

/** Why a socket operation failed, in runtime-neutral words. */
export type SocketErrorKind =
  /** No such socket file (or host). */
  | "missing"
  /** Not allowed (file permissions, or Deno's permission system). */
  | "denied"
  /** Nothing listens there. */
  | "refused"
  /** The peer went away (reset, broken pipe, aborted). */
  | "dropped"
  /** The socket or listener was closed here. */
  | "closed"
  /** Out of file descriptors. */
  | "exhausted";

const isDeno = typeof Deno !== "undefined" && typeof Deno.connect === "function";

const NODE_CODES: Record<string, SocketErrorKind> = {
  ENOENT: "missing",
  ENOTFOUND: "missing",
  EACCES: "denied",
  EPERM: "denied",
  ECONNREFUSED: "refused",
  ECONNRESET: "dropped",
  EPIPE: "dropped",
  ECONNABORTED: "dropped",
  ENOTCONN: "dropped",
  ERR_SOCKET_CLOSED: "closed",
  ERR_SERVER_NOT_RUNNING: "closed",
  EMFILE: "exhausted",
  ENFILE: "exhausted",
};

/**
 * Classifies a socket error from either runtime.
 *
 * @param err What a socket call threw.
 * @returns The kind, or `undefined` for anything else.
 *
 * @example
 * ```ts
 * import { socketErrorKind } from "./transport.ts";
 * console.assert(socketErrorKind(new Deno.errors.ConnectionRefused("x")) === "refused");
 * console.assert(socketErrorKind(Object.assign(new Error("x"), { code: "EPIPE" })) === "dropped");
 * ```
 */
export function socketErrorKind(err: unknown): SocketErrorKind | undefined {
  if (isDeno) {
    const e = Deno.errors;
    if (err instanceof e.NotFound) return "missing";
    if (err instanceof e.PermissionDenied || err instanceof e.NotCapable) return "denied";
    if (err instanceof e.ConnectionRefused) return "refused";
    if (
      err instanceof e.ConnectionReset || err instanceof e.BrokenPipe ||
      err instanceof e.ConnectionAborted || err instanceof e.NotConnected
    ) return "dropped";
    if (err instanceof e.BadResource || err instanceof e.Interrupted) return "closed";
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code in NODE_CODES) return NODE_CODES[code];
  if (err instanceof Error && /too many open files/i.test(err.message)) return "exhausted";
  return undefined;
}

/**
 * Opens a TCP connection with Nagle's algorithm off (frames are small and latency-bound).
 *
 * @param hostname Host to dial.
 * @param port Port to dial.
 * @param signal Aborts the connect.
 * @returns The connected socket.
 */
export async function connectTcp(
  hostname: string,
  port: number,
  signal?: AbortSignal,
): Promise<Socket> {
  if (!isDeno) return await nodeConnect({ host: hostname, port, noDelay: true }, signal);
  const conn = await Deno.connect(
    signal === undefined ? { hostname, port } : { hostname, port, signal },
  );
  conn.setNoDelay(true);
  return conn;
}

/**
 * Opens a unix socket connection.
 *
 * @param path The socket file.
 * @returns The connected socket.
 */
export async function connectUnix(path: string): Promise<Socket> {
  if (!isDeno) return await nodeConnect({ path });
  return await Deno.connect({ transport: "unix", path });
}

/** Why a TLS connection failed, in runtime-neutral words. */
export type TlsErrorKind =
  /** The peer's certificate does not chain to a trusted CA (or is expired or malformed). */
  | "untrusted"
  /** The peer's certificate is valid but does not name the host dialed. */
  | "wrong-name"
  /** The peer refused the handshake with an alert (no client certificate, or an untrusted one). */
  | "rejected"
  /** The peer answered with something that is not TLS (a plain HTTP server). */
  | "not-tls"
  /** The handshake got no answer within its timeout. */
  | "silent";

const NODE_UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_CHAIN_TOO_LONG",
  "INVALID_CA",
  "INVALID_PURPOSE",
]);

const NODE_NOT_TLS = new Set([
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_PACKET_LENGTH_TOO_LONG",
  "ERR_SSL_HTTP_REQUEST",
  "ERR_SSL_RECORD_LAYER_FAILURE",
]);

/**
 * Classifies a TLS failure from either runtime (rustls on Deno, OpenSSL on Node.js).
 *
 * @param err What a TLS connect, handshake, read or write threw.
 * @returns The kind, or `undefined` for anything else.
 *
 * @example
 * ```ts
 * import { tlsErrorKind } from "./transport.ts";
 * console.assert(tlsErrorKind(new Error("invalid peer certificate: UnknownIssuer")) === "untrusted");
 * console.assert(tlsErrorKind(Object.assign(new Error("x"), { code: "ERR_SSL_WRONG_VERSION_NUMBER" })) === "not-tls");
 * ```
 */
export function tlsErrorKind(err: unknown): TlsErrorKind | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") {
    if (code === "ERR_TLS_HANDSHAKE_TIMEOUT") return "silent";
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "wrong-name";
    if (NODE_UNTRUSTED.has(code)) return "untrusted";
    if (NODE_NOT_TLS.has(code)) return "not-tls";
    if (/^ERR_SSL_.*ALERT/.test(code)) return "rejected";
  }
  if (!(err instanceof Error)) return undefined;
  const message = err.message;
  if (/invalid peer certificate: NotValidForName/i.test(message)) return "wrong-name";
  if (/invalid peer certificate/i.test(message)) return "untrusted";
  if (/received fatal alert/i.test(message)) return "rejected";
  if (/received corrupt message|InvalidContentType|wrong version number/i.test(message)) {
    return "not-tls";
  }
  return undefined;
}

/** Options for {@linkcode connectTls}. */
export interface TlsConnectOptions {
  /**
   * Verify the peer's certificate chain and that it names the host dialed.
   * Deno's own TLS always verifies the chain, so without verification
   * `node:tls` is used on Deno too.
   *
   * @default {true}
   */
  verify?: boolean;
  /**
   * PEM CA certificates the peer's certificate may chain to. On Deno they
   * are trusted besides the built-in roots; on Node.js instead of them.
   */
  caCerts?: string[];
  /** PEM client certificate (chain) for mutual TLS; needs `key`. */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /**
   * Milliseconds the connect and the handshake may take together.
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
  /** Aborts the connect and the handshake. */
  signal?: AbortSignal;
}

/**
 * Opens a TLS connection and completes the handshake, so a refused
 * certificate fails here rather than on the first read (except a client
 * certificate the peer refuses after a TLS 1.3 handshake: that surfaces as
 * an alert on the first read; see {@linkcode tlsErrorKind}).
 *
 * @param hostname Host to dial; also the name the certificate must carry.
 * @param port Port to dial.
 * @param options Verification, CA, client certificate, timeout, signal.
 * @returns The connected socket.
 * @throws {TypeError} When only one of `cert` and `key` is given.
 * @throws {RangeError} For a `handshakeTimeout` that is not a positive number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectTls } from "./transport.ts";
 *
 * await assert.rejects(
 *   connectTls("127.0.0.1", 2376, { cert: "-----BEGIN CERTIFICATE-----" }),
 *   TypeError,
 * );
 * ```
 */
export async function connectTls(
  hostname: string,
  port: number,
  options: TlsConnectOptions = {},
): Promise<Socket> {
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError(
      `Cannot connect to "${hostname}:${port}" over TLS: a client certificate needs its key (give both cert and key, or neither)`,
    );
  }
  const timeout = options.handshakeTimeout ?? 10_000;
  if (!(timeout > 0 && timeout <= 2 ** 31 - 1)) {
    throw new RangeError(
      `Cannot connect to "${hostname}:${port}" over TLS: invalid handshakeTimeout ${timeout}`,
    );
  }
  options.signal?.throwIfAborted();
  const onTimeout = () =>
    Object.assign(
      new Error(`TLS handshake with "${hostname}:${port}" got no answer within ${timeout} ms`),
      { code: "ERR_TLS_HANDSHAKE_TIMEOUT" },
    );
  return isDeno && options.verify !== false
    ? await denoConnectTls(hostname, port, options, timeout, onTimeout)
    : await nodeConnectTls(hostname, port, options, timeout, onTimeout);
}

async function denoConnectTls(
  hostname: string,
  port: number,
  options: TlsConnectOptions,
  timeout: number,
  onTimeout: () => Error,
): Promise<Socket> {
  const tlsOptions: Deno.ConnectTlsOptions & Partial<Deno.TlsCertifiedKeyPem> = {
    hostname,
    port,
  };
  if (options.caCerts !== undefined) tlsOptions.caCerts = options.caCerts;
  if (options.cert !== undefined && options.key !== undefined) {
    tlsOptions.cert = options.cert;
    tlsOptions.key = options.key;
  }
  const closeQuietly = (conn: Deno.TlsConn | undefined) => {
    try {
      conn?.close();
    } catch {
      // Already closed.
    }
  };
  let conn: Deno.TlsConn | undefined;
  const opening = (async () => {
    const opened = conn = await Deno.connectTls(tlsOptions as Deno.ConnectTlsOptions);
    try {
      await opened.handshake();
    } catch (error) {
      closeQuietly(opened);
      throw error;
    }
    return opened;
  })();
  return await bounded(opening, {
    timeout,
    signal: options.signal,
    onTimeout,
    stop: () => closeQuietly(conn),
    discard: closeQuietly,
  });
}

async function nodeConnectTls(
  hostname: string,
  port: number,
  options: TlsConnectOptions,
  timeout: number,
  onTimeout: () => Error,
): Promise<Socket> {
  const [net, tls] = await Promise.all([loadNet(), loadTls()]);
  const tlsOptions: NodeTls.ConnectionOptions = {
    host: hostname,
    port,
    rejectUnauthorized: options.verify !== false,
  };
  // Node checks the certificate against `servername ?? host`; an IP must not be sent as SNI.
  if (net.isIP(hostname) === 0) tlsOptions.servername = hostname;
  if (options.caCerts !== undefined) tlsOptions.ca = options.caCerts;
  if (options.cert !== undefined && options.key !== undefined) {
    tlsOptions.cert = options.cert;
    tlsOptions.key = options.key;
  }
  const sock = tls.connect(tlsOptions);
  const opening = new Promise<NodeTls.TLSSocket>((resolve, reject) => {
    const onError = (err: Error) => {
      sock.destroy();
      reject(err);
    };
    sock.once("error", onError);
    sock.once("secureConnect", () => {
      sock.removeListener("error", onError);
      sock.setNoDelay(true);
      resolve(sock);
    });
  });
  const ready = await bounded(opening, {
    timeout,
    signal: options.signal,
    onTimeout,
    stop: () => sock.destroy(),
    discard: () => sock.destroy(),
  });
  return new NodeSocket(ready, ready, () => ready.destroy());
}

interface BoundedOptions<T> {
  timeout: number;
  signal: AbortSignal | undefined;
  onTimeout: () => Error;
  /** Abandons the attempt (closes what is half open). */
  stop: () => void;
  /** Closes what the attempt opened after all, once it was abandoned. */
  discard: (value: T) => void;
}

/** Settles with `opening` unless the timeout or the signal comes first. */
function bounded<T>(opening: Promise<T>, options: BoundedOptions<T>): Promise<T> {
  const { signal } = options;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      return true;
    };
    const abandon = (reason: unknown) => {
      if (!settle()) return;
      options.stop();
      reject(reason);
    };
    const onAbort = () => abandon(signal!.reason);
    const timer = setTimeout(() => abandon(options.onTimeout()), options.timeout);
    signal?.addEventListener("abort", onAbort, { once: true });
    opening.then(
      (value) => settle() ? resolve(value) : options.discard(value),
      (error) => settle() && reject(error),
    );
  });
}

/**
 * Listens on TCP; accepted sockets have Nagle's algorithm off.
 *
 * @param hostname Address to bind (never all interfaces unless asked).
 * @param port Port to bind; 0 picks a free one.
 * @returns The listener.
 */
export async function listenTcp(hostname: string, port: number): Promise<Listener> {
  if (!isDeno) return await nodeListen(hostname, port);
  const inner = Deno.listen({ hostname, port, transport: "tcp" });
  return {
    addr: { hostname: inner.addr.hostname, port: inner.addr.port },
    accept: async () => {
      const conn = await inner.accept();
      conn.setNoDelay(true);
      return Object.assign(conn, {
        localAddress: unmapped(conn.localAddr.hostname),
        remoteAddress: unmapped(conn.remoteAddr.hostname),
      });
    },
    close: () => inner.close(),
    ref: () => inner.ref(),
    unref: () => inner.unref(),
  };
}

/** `::ffff:10.0.0.1` as `10.0.0.1`; any other address as it is. */
function unmapped(address: string | undefined): string {
  return (address ?? "").replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
}

// ---- Node.js ---------------------------------------------------------------

let nodeNet: Promise<typeof NodeNet> | undefined;
const loadNet = () => nodeNet ??= import("node:net");
let nodeTls: Promise<typeof NodeTls> | undefined;
const loadTls = () => nodeTls ??= import("node:tls");

/** Bytes buffered from a node socket before it is paused (back-pressure). */
const NODE_HIGH_WATER = 1024 * 1024;

/**
 * The error a closed socket's `write()` rejects with (classified as `"closed"`).
 *
 * @returns The error.
 */
export function closedError(): Error {
  return Object.assign(new Error("Socket is closed"), { code: "ERR_SOCKET_CLOSED" });
}

/** The readable half of a node stream, as {@linkcode NodeSocket} uses it. */
export interface NodeInput {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  isPaused(): boolean;
}

/** The writable half of a node stream, as {@linkcode NodeSocket} uses it. */
export interface NodeOutput {
  readonly destroyed: boolean;
  write(chunk: Uint8Array, callback: (err?: Error | null) => void): boolean;
  on(event: "error", listener: (err: Error) => void): unknown;
}

/**
 * `read()`/`write()` over a node stream: a `node:net` or `node:tls` socket,
 * or a child's stdout and stdin (for `process_socket.ts`).
 */
export class NodeSocket implements Socket {
  #input: NodeInput;
  #output: NodeOutput;
  #destroy: () => void;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: unknown;
  #wake: (() => void) | undefined;

  /**
   * @param input Where bytes are read from.
   * @param output Where bytes are written to (the same stream for a socket).
   * @param destroy Closes both.
   */
  constructor(input: NodeInput, output: NodeOutput, destroy: () => void) {
    this.#input = input;
    this.#output = output;
    this.#destroy = destroy;
    input.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered > NODE_HIGH_WATER) input.pause();
      this.#notify();
    });
    input.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    const onError = (err: Error) => {
      this.#error ??= err;
      this.#notify();
    };
    input.on("error", onError);
    if ((output as unknown) !== input) output.on("error", onError);
    input.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error !== undefined) {
        if (socketErrorKind(this.#error) === "dropped") return null;
        throw this.#error;
      }
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const head = this.#chunks[0]!;
    const n = Math.min(p.length, head.length);
    p.set(head.subarray(0, n));
    if (n === head.length) this.#chunks.shift();
    else this.#chunks[0] = head.subarray(n);
    this.#buffered -= n;
    if (this.#buffered <= NODE_HIGH_WATER / 2 && this.#input.isPaused()) this.#input.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#output.destroyed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      // The callback runs once the bytes are handed to the kernel, so `p` may be reused after.
      this.#output.write(p, (err) => err ? reject(err) : resolve(p.length));
    });
  }

  close(): void {
    this.#ended = true;
    this.#destroy();
    this.#notify();
  }
}

async function nodeConnect(
  options: NodeNet.NetConnectOpts,
  signal?: AbortSignal,
): Promise<Socket> {
  const net = await loadNet();
  signal?.throwIfAborted();
  return await new Promise<Socket>((resolve, reject) => {
    const sock = net.connect(options);
    const onAbort = () => {
      sock.destroy();
      reject(signal!.reason);
    };
    const onError = (err: Error) => {
      signal?.removeEventListener("abort", onAbort);
      reject(err);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    sock.once("error", onError);
    sock.once("connect", () => {
      signal?.removeEventListener("abort", onAbort);
      sock.removeListener("error", onError);
      resolve(new NodeSocket(sock, sock, () => sock.destroy()));
    });
  });
}

async function nodeListen(hostname: string, port: number): Promise<Listener> {
  const net = await loadNet();
  const pending: NodeNet.Socket[] = [];
  const waiting: { resolve: (s: AcceptedSocket) => void; reject: (e: unknown) => void }[] = [];
  const accepted = (sock: NodeNet.Socket): AcceptedSocket =>
    Object.assign(new NodeSocket(sock, sock, () => sock.destroy()), {
      localAddress: unmapped(sock.localAddress),
      remoteAddress: unmapped(sock.remoteAddress),
    });
  let closed = false;
  const server = net.createServer({ noDelay: true, pauseOnConnect: false }, (sock) => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(accepted(sock));
    else pending.push(sock);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
  const address = server.address() as NodeNet.AddressInfo;
  return {
    addr: { hostname: address.address, port: address.port },
    accept: () => {
      if (closed) return Promise.reject(closedError());
      const sock = pending.shift();
      if (sock) return Promise.resolve(accepted(sock));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    close: () => {
      if (closed) return;
      closed = true;
      server.close();
      for (const s of pending.splice(0)) s.destroy();
      for (const w of waiting.splice(0)) w.reject(closedError());
    },
    ref: () => void server.ref(),
    unref: () => void server.unref(),
  };
}
