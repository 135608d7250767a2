/**
 * A scripted stand-in for the Docker engine on a unix socket in a temporary
 * directory, for testing the client's connection handling without Docker.
 *
 * @module
 */

/** A request as the fake engine received it. */
export interface FakeRequest {
  /** Method. */
  method: string;
  /** Target (path and query). */
  path: string;
  /** Headers, keyed by lower-cased name. */
  headers: Record<string, string>;
  /** Body text. */
  body: string;
  /** Which connection (1, 2, ...) carried it. */
  connection: number;
}

/** What the handler answers: raw response bytes, `"hang"` (never answer) or `"close"` (drop the connection). */
export type FakeReply = string | Uint8Array | "hang" | "close";

/** Builds a JSON response with a Content-Length. */
export function json(status: number, value: unknown, extra = ""): string {
  const body = JSON.stringify(value);
  const length = new TextEncoder().encode(body).length;
  return `HTTP/1.1 ${status} X\r\nContent-Type: application/json\r\n${extra}Content-Length: ${length}\r\n\r\n${body}`;
}

/** Builds a chunked response from the given pieces. */
export function chunked(
  status: number,
  pieces: readonly (string | Uint8Array)[],
  extra = "",
): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [
    encoder.encode(`HTTP/1.1 ${status} X\r\n${extra}Transfer-Encoding: chunked\r\n\r\n`),
  ];
  for (const piece of pieces) {
    const data = typeof piece === "string" ? encoder.encode(piece) : piece;
    parts.push(encoder.encode(`${data.length.toString(16)}\r\n`), data, encoder.encode("\r\n"));
  }
  parts.push(encoder.encode("0\r\n\r\n"));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A fake engine listening on a unix socket. */
export class FakeEngine implements AsyncDisposable {
  /** Path of its socket. */
  readonly path: string;
  /** Every request received, in order. */
  readonly requests: FakeRequest[] = [];
  #dir: string;
  #listener: Deno.Listener;
  #handler: (request: FakeRequest) => FakeReply | Promise<FakeReply>;
  #conns = new Set<Deno.Conn>();
  #tasks: Promise<void>[] = [];
  #accepting: Promise<void>;
  #connections = 0;

  private constructor(
    dir: string,
    handler: (request: FakeRequest) => FakeReply | Promise<FakeReply>,
  ) {
    this.#dir = dir;
    this.path = `${dir}/docker.sock`;
    this.#handler = handler;
    this.#listener = Deno.listen({ transport: "unix", path: this.path });
    this.#accepting = this.#accept();
  }

  /** Starts a fake engine answering with `handler`. */
  static async start(
    handler: (request: FakeRequest) => FakeReply | Promise<FakeReply>,
  ): Promise<FakeEngine> {
    return new FakeEngine(await Deno.makeTempDir({ prefix: "flame-fake-docker-" }), handler);
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.#connections;
  }

  /** Connections currently open. */
  get open(): number {
    return this.#conns.size;
  }

  /** Closes every connection made to it (as an engine restart would). */
  dropConnections(): void {
    for (const conn of this.#conns) conn.close();
    this.#conns.clear();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        this.#tasks.push(this.#serve(conn, ++this.#connections));
      }
    } catch {
      // Listener closed.
    }
  }

  async #serve(conn: Deno.Conn, id: number): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        let end = buffered.indexOf("\r\n\r\n");
        while (end === -1) {
          const n = await conn.read(buf);
          if (n === null) return;
          buffered += decoder.decode(buf.subarray(0, n));
          end = buffered.indexOf("\r\n\r\n");
        }
        const [requestLine = "", ...lines] = buffered.slice(0, end).split("\r\n");
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(":");
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers["content-length"] ?? 0);
        buffered = buffered.slice(end + 4);
        while (buffered.length < length) {
          const n = await conn.read(buf);
          if (n === null) return;
          buffered += decoder.decode(buf.subarray(0, n));
        }
        const [method = "", path = ""] = requestLine.split(" ");
        const request = { method, path, headers, body: buffered.slice(0, length), connection: id };
        buffered = buffered.slice(length);
        this.requests.push(request);
        const reply = await this.#handler(request);
        if (reply === "close") return;
        if (reply === "hang") {
          while (await conn.read(buf) !== null) { /* wait for the client to give up */ }
          return;
        }
        const bytes = typeof reply === "string" ? new TextEncoder().encode(reply) : reply;
        for (let written = 0; written < bytes.length;) {
          written += await conn.write(bytes.subarray(written));
        }
      }
    } catch {
      // Connection closed by the client or by close().
    } finally {
      if (this.#conns.delete(conn)) conn.close();
    }
  }

  /** Stops listening, closes every connection and removes the socket. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    this.dropConnections();
    await Promise.all(this.#tasks);
    await Deno.remove(this.#dir, { recursive: true });
  }

  /** Same as {@linkcode FakeEngine.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
