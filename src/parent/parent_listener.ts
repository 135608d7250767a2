/**
 * The parent's port: accepts runner connections, authenticates them, and
 * hands each authenticated connection to the boot that waits for it.
 *
 * Anything that fails the handshake, sends garbage, announces an oversize
 * frame, or stays silent past the handshake deadline is dropped; drops are
 * logged at most once per interval, with a count, so a flood cannot flood the
 * log. The number of connections still in the handshake is bounded.
 *
 * @module
 */

import { FrameConnection } from "../protocol/connection.ts";
import { authenticateRunner, HANDSHAKE_MAX_PAYLOAD, importSecret } from "../protocol/handshake.ts";
import { type AcceptedSocket, type Listener, listenTcp, socketErrorKind } from "../transport.ts";
import type { Logger } from "../util/logger.ts";
import { withResolvers } from "../util/promise.ts";

/** Milliseconds to wait after a failed accept before the next. */
const ACCEPT_RETRY_DELAY = 50;

/** Options for {@linkcode ParentListener.open}. */
export interface ParentListenerOptions {
  /** Where to log. */
  logger: Logger;
  /** Milliseconds a connection may take to finish the handshake. @default 5000 */
  handshakeTimeout?: number;
  /** Connections allowed in the handshake at once; past it the oldest is closed. @default 256 */
  maxPending?: number;
  /** Minimum milliseconds between two "dropped connections" log lines. @default 10000 */
  dropLogInterval?: number;
  /**
   * Accept only connections that arrive at this local address (when listening
   * on every interface because the runners' address is not up yet); others
   * are closed unread.
   */
  acceptOn?: string;
}

/** Distinct drop reasons kept per log interval; the rest count as "other". */
const MAX_DROP_REASONS = 8;

interface Expected {
  key: CryptoKey;
  resolve: (conn: FrameConnection) => void;
}

/** A runner the parent is waiting for. */
export interface Expectation {
  /** Resolves with the authenticated connection. */
  connection: Promise<FrameConnection>;
  /** Stops waiting (the id is no longer accepted). */
  cancel(): void;
}

/** The parent's listening socket for runners. */
export class ParentListener {
  #listener: Listener;
  #log: Logger;
  #expected = new Map<string, Expected>();
  #handshakes = new Set<FrameConnection>();
  #handshakeTimeout: number;
  #maxPending: number;
  #dropLogInterval: number;
  #drops = 0;
  #lastDropLog = 0;
  #dropReasons = new Map<string, number>();
  #accepting: Promise<void>;
  #acceptOn: string | undefined;
  #closing = false;

  private constructor(listener: Listener, options: ParentListenerOptions) {
    this.#listener = listener;
    this.#log = options.logger;
    this.#handshakeTimeout = options.handshakeTimeout ?? 5000;
    this.#maxPending = options.maxPending ?? 256;
    this.#dropLogInterval = options.dropLogInterval ?? 10_000;
    this.#acceptOn = options.acceptOn;
    this.#accepting = this.#acceptLoop();
  }

  /**
   * Listens on `hostname` (a free port when `port` is 0).
   *
   * @param hostname The address runners can reach; never all interfaces by default.
   * @param port The port, or 0.
   * @param options Logger and limits.
   * @returns The listener.
   */
  static async open(
    hostname: string,
    port: number,
    options: ParentListenerOptions,
  ): Promise<ParentListener> {
    return new ParentListener(await listenTcp(hostname, port), options);
  }

  /** The bound address. */
  get addr(): { hostname: string; port: number } {
    return this.#listener.addr;
  }

  /** Dropped connections so far (for tests and stats). */
  get drops(): number {
    return this.#drops;
  }

  /**
   * Waits for runner `id` to connect and prove `secret`. Each id is accepted once.
   *
   * @param id The runner id.
   * @param secret Its secret (base64url).
   * @returns The expectation.
   */
  async expect(id: string, secret: string): Promise<Expectation> {
    const key = await importSecret(secret);
    const { promise, resolve } = withResolvers<FrameConnection>();
    this.#expected.set(id, { key, resolve });
    return { connection: promise, cancel: () => this.#expected.delete(id) };
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closing) {
      let socket: AcceptedSocket;
      try {
        socket = await this.#listener.accept();
      } catch (err) {
        if (this.#closing || socketErrorKind(err) === "closed") return;
        // Transient (out of file descriptors under a flood, a peer reset before the
        // accept): keep the port, or no runner could ever connect again.
        this.#dropped(`accept failed: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, ACCEPT_RETRY_DELAY));
        continue;
      }
      if (this.#acceptOn !== undefined && socket.localAddress !== this.#acceptOn) {
        socket.close();
        this.#dropped(`arrived at ${socket.localAddress}, not at ${this.#acceptOn}`);
        continue;
      }
      if (this.#handshakes.size >= this.#maxPending) {
        // Evict the oldest rather than refuse the newest: a real runner finishes in a
        // round trip or two, so refusing newcomers would let a few silent sockets lock
        // every runner out, while evicting the oldest takes a flood faster than that.
        const oldest = this.#handshakes.values().next().value!;
        this.#handshakes.delete(oldest);
        oldest.close();
      }
      this.#handshake(new FrameConnection(socket, { maxPayload: HANDSHAKE_MAX_PAYLOAD }));
    }
  }

  async #handshake(conn: FrameConnection): Promise<void> {
    this.#handshakes.add(conn);
    const timer = setTimeout(() => conn.close(), this.#handshakeTimeout);
    try {
      const id = await authenticateRunner(conn, (id) => this.#expected.get(id)?.key);
      const expected = this.#expected.get(id);
      if (expected === undefined || conn.closed) throw new Error("handshake abandoned");
      this.#expected.delete(id);
      expected.resolve(conn);
    } catch (err) {
      conn.close();
      this.#dropped(conn.closed && !(err instanceof Error) ? "closed" : (err as Error).message);
    } finally {
      clearTimeout(timer);
      this.#handshakes.delete(conn);
    }
  }

  #dropped(reason: string): void {
    this.#drops++;
    // Bounded: a flood of distinct reasons within one interval costs one entry.
    const text = reason.slice(0, 200);
    const key = this.#dropReasons.has(text) || this.#dropReasons.size < MAX_DROP_REASONS
      ? text
      : "other";
    this.#dropReasons.set(key, (this.#dropReasons.get(key) ?? 0) + 1);
    const now = Date.now();
    if (now - this.#lastDropLog >= this.#dropLogInterval) {
      this.#lastDropLog = now;
      const summary = [...this.#dropReasons].map(([r, n]) => `${n}× ${r}`).join("; ");
      this.#dropReasons.clear();
      this.#log.warn(`dropped unauthenticated connection(s) on the runner port: ${summary}`);
    }
  }

  /** Lets the port keep the process alive (the default; a runner is booting or serving). */
  ref(): void {
    this.#listener.ref();
  }

  /** Stops the port from keeping the process alive (the pool is idle). */
  unref(): void {
    this.#listener.unref();
  }

  /** Stops listening and closes connections still in the handshake. */
  async close(): Promise<void> {
    this.#closing = true;
    // An unref'd accept under way would not keep the process alive until it
    // settles, so nothing would wait for `#accepting` below.
    this.#listener.ref();
    this.#listener.close();
    for (const conn of this.#handshakes) conn.close();
    this.#expected.clear();
    await this.#accepting;
  }
}
