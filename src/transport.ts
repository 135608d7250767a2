/**
 * The only place that opens sockets: `Deno.connect`/`Deno.listen` on Deno,
 * `node:net` on Node.js, behind one small interface. Everything above it
 * (frames, the Docker client's HTTP) reads and writes a {@linkcode Socket}.
 *
 * @module
 */

import type * as NodeNet from "node:net";

/** A connected byte stream (a `Deno.Conn` satisfies it). */
export interface Socket {
  /** Reads into `p`; resolves to the count read, or `null` at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves to the count written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes both directions. */
  close(): void;
}

/** A TCP listener. */
export interface Listener {
  /** The bound address. */
  readonly addr: { hostname: string; port: number };
  /** Accepts the next connection; rejects with a "closed" error once `close()` ran. */
  accept(): Promise<Socket>;
  /** Stops listening. */
  close(): void;
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
      return conn;
    },
    close: () => inner.close(),
  };
}

// ---- Node.js ---------------------------------------------------------------

let nodeNet: Promise<typeof NodeNet> | undefined;
const loadNet = () => nodeNet ??= import("node:net");

/** Bytes buffered from a node socket before it is paused (back-pressure). */
const NODE_HIGH_WATER = 1024 * 1024;

function closedError(): Error {
  return Object.assign(new Error("Socket is closed"), { code: "ERR_SOCKET_CLOSED" });
}

/** `read()`/`write()` over a `node:net` socket. */
class NodeSocket implements Socket {
  #sock: NodeNet.Socket;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: unknown;
  #wake: (() => void) | undefined;

  constructor(sock: NodeNet.Socket) {
    this.#sock = sock;
    sock.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered > NODE_HIGH_WATER) sock.pause();
      this.#notify();
    });
    sock.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    sock.on("error", (err) => {
      this.#error ??= err;
      this.#notify();
    });
    sock.on("close", () => {
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
    if (this.#buffered <= NODE_HIGH_WATER / 2 && this.#sock.isPaused()) this.#sock.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#sock.destroyed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      // The callback runs once the bytes are handed to the kernel, so `p` may be reused after.
      this.#sock.write(p, (err) => err ? reject(err) : resolve(p.length));
    });
  }

  close(): void {
    this.#ended = true;
    this.#sock.destroy();
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
      resolve(new NodeSocket(sock));
    });
  });
}

async function nodeListen(hostname: string, port: number): Promise<Listener> {
  const net = await loadNet();
  const pending: NodeNet.Socket[] = [];
  const waiting: { resolve: (s: Socket) => void; reject: (e: unknown) => void }[] = [];
  let closed = false;
  const server = net.createServer({ noDelay: true, pauseOnConnect: false }, (sock) => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(new NodeSocket(sock));
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
      if (sock) return Promise.resolve(new NodeSocket(sock));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    close: () => {
      if (closed) return;
      closed = true;
      server.close();
      for (const s of pending.splice(0)) s.destroy();
      for (const w of waiting.splice(0)) w.reject(closedError());
    },
  };
}
