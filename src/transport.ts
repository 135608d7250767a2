/**
 * The only place that opens sockets for the parent–runner link, so another
 * runtime's sockets can stand in behind the same small interface.
 *
 * @module
 */

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
export interface Listener extends AsyncIterable<Socket> {
  /** The bound address. */
  readonly addr: { hostname: string; port: number };
  /** Accepts the next connection. */
  accept(): Promise<Socket>;
  /** Stops listening. */
  close(): void;
}

/**
 * Opens a TCP connection with Nagle's algorithm off (frames are small and latency-bound).
 *
 * @param hostname Host to dial.
 * @param port Port to dial.
 * @returns The connected socket.
 */
export async function connectTcp(hostname: string, port: number): Promise<Socket> {
  const conn = await Deno.connect({ hostname, port, transport: "tcp" });
  conn.setNoDelay(true);
  return conn;
}

/**
 * Listens on TCP; accepted sockets have Nagle's algorithm off.
 *
 * @param hostname Address to bind (never all interfaces unless asked).
 * @param port Port to bind; 0 picks a free one.
 * @returns The listener.
 */
export function listenTcp(hostname: string, port: number): Listener {
  const inner = Deno.listen({ hostname, port, transport: "tcp" });
  const accept = async (): Promise<Socket> => {
    const conn = await inner.accept();
    conn.setNoDelay(true);
    return conn;
  };
  return {
    addr: { hostname: inner.addr.hostname, port: inner.addr.port },
    accept,
    close: () => inner.close(),
    async *[Symbol.asyncIterator]() {
      while (true) {
        try {
          yield await accept();
        } catch (err) {
          if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
            return;
          }
          throw err;
        }
      }
    },
  };
}
