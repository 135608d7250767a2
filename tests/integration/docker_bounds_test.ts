/**
 * Every Docker call DockerBackend makes to boot, stop and close has a
 * deadline: a container that never started is removed (even with
 * `keepRunners`) and never waited for, and `pool.close()` returns within
 * `shutdownTimeout` plus the stop's fixed bound whatever the engine answers
 * to stop, remove and wait: nothing, 500, or a dropped connection (injected
 * by a front of the test's own in front of the real engine).
 */

import assert from "node:assert/strict";
import { BootError, DockerBackend, Pool } from "../../mod.ts";
import { stopBound } from "../../src/backends/docker/stop.ts";
import { waitForAsync } from "../_helpers/backends.ts";
import {
  containersOfPool,
  createFileNetwork,
  docker,
  DOCKER_SOCKET,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
} from "../_helpers/docker.ts";

const suffix = crypto.randomUUID().slice(0, 8);
const NETWORK = `flame-bounds-${suffix}`;
const SHUTDOWN_TIMEOUT = 2000;
const STOP_TIMEOUT = 1000;
/** What close() may take: the link's goodbye (at most shutdownTimeout), the stop's bound, scheduling slack. */
const CLOSE_BOUND = SHUTDOWN_TIMEOUT + stopBound(STOP_TIMEOUT) + 1000;

if (!ignoreWithoutDocker) {
  await ensureTestImage();
  await createFileNetwork(NETWORK);
}

/** Waits (bounded) for a pool's containers to go, then force-removes what is left; returns what was left. */
async function removeLeft(pool: string): Promise<string[]> {
  await waitForAsync(async () => (await containersOfPool(pool)).length === 0, 5000);
  const left = await containersOfPool(pool);
  if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
  return left;
}

Deno.test({
  name:
    "[docker] a container that never starts (keepRunners, cmd /nonexistent) fails the boot with the engine's reason, is removed, and close() is bounded",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const name = `t-bounds-never-${suffix}`;
    const pool = new Pool({
      backend: new DockerBackend({
        image: TEST_IMAGE,
        network: NETWORK,
        keepRunners: true,
        cmd: ["/nonexistent"],
        stopTimeout: STOP_TIMEOUT,
      }),
      name,
      max: 1,
      shutdownTimeout: SHUTDOWN_TIMEOUT,
    });
    try {
      const started = Date.now();
      const err = await pool.call(() => 1).catch((e) => e);
      const bootMs = Date.now() - started;
      assert.ok(err instanceof BootError, String(err));
      assert.match(err.message, /Cannot start runner container "[^"]+": .*\/nonexistent/);
      assert.ok(err.cause instanceof Error, "the start failure is the cause");
      assert.ok(bootMs < 15_000, `the boot failed after ${bootMs} ms`);
      assert.deepEqual(await containersOfPool(name), [], "the never-started container is removed");
      const closing = Date.now();
      await pool.close();
      const closeMs = Date.now() - closing;
      console.log(`  boot failed in ${bootMs} ms; close() took ${closeMs} ms`);
      assert.ok(closeMs <= CLOSE_BOUND, `close() took ${closeMs} ms, more than ${CLOSE_BOUND} ms`);
    } finally {
      await pool.close();
      const left = await removeLeft(name);
      assert.deepEqual(left, [], "containers left behind");
    }
  },
});

/** How the front fails a request. */
type Fault = "hang" | "500" | "drop";

/** A request the front fails, by method and path (without the `/v1.xx` prefix and the query). */
interface FaultRule {
  method: string;
  path: RegExp;
  fault: Fault;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A unix-socket front to the real engine that fails the requests its rules
 * name (never answers, answers 500, or drops the connection) and forwards
 * the rest, one upstream connection per request.
 */
class FaultFront {
  readonly path: string;
  rules: FaultRule[] = [];
  /** `METHOD path -> fault` of every request failed. */
  readonly failed: string[] = [];
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

  static async start(): Promise<FaultFront> {
    return new FaultFront(await Deno.makeTempDir({ prefix: "flame-fault-front-" }));
  }

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

  async #serve(client: Deno.Conn): Promise<void> {
    this.#conns.add(client);
    const reader = new RequestReader(client);
    try {
      for (let request = await reader.next(); request; request = await reader.next()) {
        const [method = "", target = ""] = request.head.split("\r\n")[0]!.split(" ");
        const path = target.replace(/^\/v[0-9.]+/, "").replace(/\?.*$/, "");
        const rule = this.rules.find((r) => r.method === method && r.path.test(path));
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
        const body = JSON.stringify({ message: "injected fault" });
        await writeAll(
          client,
          encoder.encode(
            `HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
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

for (const fault of ["hang", "500", "drop"] as const) {
  Deno.test({
    name:
      `[docker] close() is bounded when the engine answers stop, remove and wait with: ${fault}`,
    ignore: ignoreWithoutDocker,
    fn: async () => {
      const name = `t-bounds-${fault}-${suffix}`;
      const front = await FaultFront.start();
      const wait = { method: "POST", path: /^\/containers\/[^/]+\/wait$/, fault };
      // A 500 to the first wait would read as the runner's exit: fail it only at the stop.
      front.rules = fault === "500" ? [] : [wait];
      const pool = new Pool({
        backend: new DockerBackend({
          image: TEST_IMAGE,
          network: NETWORK,
          dockerSocketPath: front.path,
          stopTimeout: STOP_TIMEOUT,
        }),
        name,
        max: 1,
        shutdownTimeout: SHUTDOWN_TIMEOUT,
      });
      try {
        assert.equal(await pool.call(() => "up"), "up");
        front.rules = [
          wait,
          { method: "POST", path: /^\/containers\/[^/]+\/stop$/, fault },
          { method: "DELETE", path: /^\/containers\/[^/]+$/, fault },
        ];
        const started = Date.now();
        await pool.close();
        const took = Date.now() - started;
        console.log(`  ${fault}: close() took ${took} ms; failed: ${front.failed.join(", ")}`);
        assert.ok(took <= CLOSE_BOUND, `close() took ${took} ms, more than ${CLOSE_BOUND} ms`);
        assert.ok(
          front.failed.some((f) => f.startsWith("POST /containers/") && f.includes("/stop")),
          `the stop went through the fault: ${front.failed}`,
        );
      } finally {
        await pool.close();
        await front.close();
        // The runner exits once its link is closed, and AutoRemove removes it.
        const left = await removeLeft(name);
        assert.deepEqual(left, [], "containers left behind once the engine was reachable again");
      }
    },
  });
}
