/**
 * A unix-socket front to the real engine, for tests of how the client and
 * the backends meet a failing engine: it fails the requests its rules name
 * (never answers, answers with a status, or drops the connection) and
 * forwards the rest, one upstream connection per request.
 */

import { DOCKER_SOCKET } from "./docker.ts";

/** What the front does to a request: never answer, drop the connection, or answer with this HTTP status. */
export type Fault = "hang" | "drop" | `${number}`;

/** A request the front fails, by method and path (without the `/v1.xx` prefix and the query). */
export interface FaultRule {
  method: string;
  path: RegExp;
  fault: Fault;
  /** How many matching requests it fails; then it lets them through. @default {Infinity} */
  times?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reason phrases of the statuses the tests inject. */
const REASONS: Record<string, string> = {
  "404": "Not Found",
  "409": "Conflict",
  "500": "Internal Server Error",
  "503": "Service Unavailable",
};

/** The front (see the module doc). Start with {@linkcode FaultFront.start}; close it in a `finally`. */
export class FaultFront {
  /** The socket to give the client (`dockerSocketPath`). */
  readonly path: string;
  rules: FaultRule[] = [];
  /** `METHOD path -> fault` of every request failed. */
  readonly failed: string[] = [];
  /** `METHOD path` of every request seen, failed or forwarded. */
  readonly seen: string[] = [];
  #dir: string;
  #listener: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #tasks = new Set<Promise<void>>();
  #accepting: Promise<void>;

  private constructor(dir: string) {
    this.#dir = dir;
    this.path = `${dir}/docker.sock`;
    const listener = Deno.listen({ transport: "unix", path: this.path });
    this.#listener = listener;
    this.#accepting = (async () => {
      try {
        for await (const conn of listener) this.#track(this.#serve(conn));
      } catch {
        // Closed.
      }
    })();
  }

  /** Listens on a socket in a temporary directory of its own. */
  static async start(): Promise<FaultFront> {
    return new FaultFront(await Deno.makeTempDir({ prefix: "flame-fault-front-" }));
  }

  /** Stops listening, closes every connection and removes the socket's directory. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#conns) this.#shut(conn);
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    await Deno.remove(this.#dir, { recursive: true });
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  #shut(conn: Deno.Conn): void {
    if (!this.#conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }

  /** The rule for a request, counting it down. */
  #match(method: string, path: string): FaultRule | undefined {
    const rule = this.rules.find((r) =>
      r.method === method && r.path.test(path) && (r.times === undefined || r.times > 0)
    );
    if (rule?.times !== undefined) rule.times--;
    return rule;
  }

  async #serve(client: Deno.Conn): Promise<void> {
    this.#conns.add(client);
    const reader = new RequestReader(client);
    try {
      for (let request = await reader.next(); request; request = await reader.next()) {
        const [method = "", target = ""] = request.head.split("\r\n")[0]!.split(" ");
        const path = target.replace(/^\/v[0-9.]+/, "").replace(/\?.*$/, "");
        this.seen.push(`${method} ${path}`);
        const rule = this.#match(method, path);
        if (rule === undefined) {
          await this.#forward(client, request);
          return;
        }
        this.failed.push(`${method} ${path} -> ${rule.fault}`);
        if (rule.fault === "drop") return;
        if (rule.fault === "hang") {
          await reader.drain();
          return;
        }
        const body = JSON.stringify({ message: `injected fault ${rule.fault}` });
        await writeAll(
          client,
          encoder.encode(
            `HTTP/1.1 ${rule.fault} ${
              REASONS[rule.fault] ?? "Injected"
            }\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
          ),
        );
      }
    } catch {
      // The client went away.
    } finally {
      this.#shut(client);
    }
  }

  /** Sends the request on a connection of its own (`Connection: close`) and relays the answer. */
  async #forward(client: Deno.Conn, request: { head: string; body: Uint8Array }): Promise<void> {
    const engine = await Deno.connect({ transport: "unix", path: DOCKER_SOCKET });
    this.#conns.add(engine);
    try {
      const lines = request.head.split("\r\n").filter((l) => !/^connection:/i.test(l));
      await writeAll(engine, encoder.encode(`${lines.join("\r\n")}\r\nConnection: close\r\n\r\n`));
      await writeAll(engine, request.body);
      const buf = new Uint8Array(64 * 1024);
      // The client hanging up (it gave up on the call) ends the exchange too.
      const hangUp = client.read(new Uint8Array(1)).then(() => this.#shut(engine), () => {});
      for (let n = await engine.read(buf); n !== null; n = await engine.read(buf)) {
        await writeAll(client, buf.subarray(0, n));
      }
      this.#shut(client);
      await hangUp;
    } finally {
      this.#shut(engine);
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** Reads requests (head, then a `Content-Length` body: what our client sends) off a connection. */
class RequestReader {
  #conn: Deno.Conn;
  #buffered = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) return false;
    const joined = new Uint8Array(this.#buffered.length + n);
    joined.set(this.#buffered);
    joined.set(chunk.subarray(0, n), this.#buffered.length);
    this.#buffered = joined;
    return true;
  }

  /** The next request, or `null` once the client closed. */
  async next(): Promise<{ head: string; body: Uint8Array } | null> {
    let end: number;
    while ((end = decoder.decode(this.#buffered).indexOf("\r\n\r\n")) < 0) {
      if (!await this.#fill()) return null;
    }
    const head = decoder.decode(this.#buffered).slice(0, end);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    const start = encoder.encode(head).length + 4;
    while (this.#buffered.length < start + length) {
      if (!await this.#fill()) return null;
    }
    const body = this.#buffered.slice(start, start + length);
    this.#buffered = this.#buffered.slice(start + length);
    return { head, body };
  }

  /** Reads until the client closes (a request left unanswered). */
  async drain(): Promise<void> {
    while (await this.#fill()) this.#buffered = new Uint8Array(0);
  }
}
