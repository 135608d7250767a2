/**
 * A small keep-alive pool of {@linkcode HttpConnection}s to one engine.
 *
 * @module
 */

import { unrefTimer } from "../runtime.ts";
import type { HttpConnection } from "./connection.ts";

/** Options for {@linkcode ConnectionPool}. */
export interface ConnectionPoolOptions {
  /** Opens a new connection. */
  connect: () => Promise<HttpConnection>;
  /** Most idle connections kept; more are closed when released. */
  maxIdle: number;
  /** Milliseconds after which an idle connection is closed. */
  idleTimeout: number;
}

/** How many connections a pool holds. */
export interface ConnectionPoolStats {
  /** Connections waiting for a request. */
  idle: number;
  /** Connections carrying a request. */
  busy: number;
}

/**
 * Keeps idle connections for reuse (most recently used first), closes them
 * after an idle timeout, and closes everything on {@linkcode ConnectionPool.close}.
 * Busy connections are not capped: a long `wait` or `logs --follow` must
 * never block other calls.
 */
export class ConnectionPool {
  #connect: () => Promise<HttpConnection>;
  #maxIdle: number;
  #idleTimeout: number;
  #idle: HttpConnection[] = [];
  #busy = new Set<HttpConnection>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /**
   * @param options How to connect, and the idle limits.
   */
  constructor(options: ConnectionPoolOptions) {
    this.#connect = options.connect;
    this.#maxIdle = options.maxIdle;
    this.#idleTimeout = options.idleTimeout;
  }

  /**
   * Connection counts.
   *
   * @returns Idle and busy counts.
   */
  get stats(): ConnectionPoolStats {
    return { idle: this.#idle.length, busy: this.#busy.size };
  }

  /**
   * Whether {@linkcode ConnectionPool.close} was called.
   *
   * @returns `true` once closed.
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Takes an idle connection, or opens one.
   *
   * @param fresh Skip idle connections (for a retry after a stale one).
   * @returns A connection now counted as busy.
   */
  async acquire(fresh = false): Promise<HttpConnection> {
    if (!fresh) {
      const idle = this.#idle.pop();
      if (idle !== undefined) {
        this.#busy.add(idle);
        return idle;
      }
    }
    const conn = await this.#connect();
    if (this.#closed) {
      conn.close();
      throw new Error("Connection pool is closed");
    }
    this.#busy.add(conn);
    return conn;
  }

  /**
   * Returns a connection after its response was read to the end: kept idle
   * when reusable and there is room, closed otherwise.
   *
   * @param conn The connection.
   */
  release(conn: HttpConnection): void {
    this.#busy.delete(conn);
    if (this.#closed || !conn.reusable || this.#idle.length >= this.#maxIdle) conn.close();
    else this.#park(conn);
  }

  /**
   * Closes a connection that must not be reused (aborted, failed).
   *
   * @param conn The connection.
   */
  destroy(conn: HttpConnection): void {
    this.#busy.delete(conn);
    conn.close();
  }

  /** Closes every connection, idle and busy, and the idle timer. */
  close(): void {
    this.#closed = true;
    this.#clearTimer();
    for (const conn of this.#idle) conn.close();
    for (const conn of this.#busy) conn.close();
    this.#idle = [];
    this.#busy.clear();
  }

  #park(conn: HttpConnection): void {
    conn.idleSince = performance.now();
    this.#idle.push(conn);
    if (this.#timer === undefined) this.#schedule(this.#idleTimeout);
  }

  #schedule(delay: number): void {
    const timer = setTimeout(() => this.#sweep(), delay);
    // An idle pool must not keep the process alive.
    unrefTimer(timer);
    this.#timer = timer;
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = performance.now();
    // Oldest first: the list is pushed in release order.
    let expired = 0;
    while (
      expired < this.#idle.length && now - this.#idle[expired]!.idleSince >= this.#idleTimeout
    ) {
      this.#idle[expired++]!.close();
    }
    if (expired > 0) this.#idle.splice(0, expired);
    const oldest = this.#idle[0];
    if (oldest !== undefined) {
      this.#schedule(Math.max(1, this.#idleTimeout - (now - oldest.idleSince)));
    }
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
