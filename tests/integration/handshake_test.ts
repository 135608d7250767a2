/**
 * The authenticated port over real loopback sockets: who gets in, who is
 * dropped, and what never runs.
 */

import assert from "node:assert/strict";
import { ParentListener } from "../../src/parent/parent_listener.ts";
import { runRunner } from "../../src/runner/main.ts";
import { FrameConnection } from "../../src/protocol/connection.ts";
import {
  authenticateRunner,
  authenticateToParent,
  generateSecret,
  HANDSHAKE_MAX_PAYLOAD,
  importSecret,
} from "../../src/protocol/handshake.ts";
import { encodeFrameHeader, type Frame, FrameDecoder } from "../../src/protocol/frame.ts";
import {
  decodeIdValue,
  encodeCallBody,
  encodeCallHeader,
  encodeId,
  FrameType,
} from "../../src/protocol/messages.ts";
import { PROTOCOL_VERSION } from "../../src/protocol/parent_env.ts";
import { encodeBase64Url } from "../../src/util/base64url.ts";
import type { Socket } from "../../src/transport.ts";
import {
  BogusParent,
  captureLogger,
  type LogLine,
  parentEnvFor,
  within,
} from "../_helpers/wire.ts";

const encoder = new TextEncoder();

async function openListener(options: { handshakeTimeout?: number; dropLogInterval?: number } = {}) {
  const log = captureLogger();
  const listener = await ParentListener.open("127.0.0.1", 0, { logger: log.logger, ...options });
  return { listener, lines: log.lines };
}

function sendCall(conn: FrameConnection, id: number, source: string, args: unknown[] = []): void {
  conn.send(FrameType.Call, [
    encodeCallHeader(id, 0),
    ...encodeCallBody({ kind: "fn", source }, args),
  ]);
}

function frameBytes(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out.set(encodeFrameHeader(type, payload.length));
  out.set(payload, 5);
  return out;
}

function helloBytes(id: string): Uint8Array {
  const nonce = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  return frameBytes(
    FrameType.Hello,
    encoder.encode(JSON.stringify({ v: PROTOCOL_VERSION, id, nonce })),
  );
}

/** Resolves with how long until the peer closed `conn` (reads and discards), or "timeout". */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<number | "timeout"> {
  const started = Date.now();
  const buf = new Uint8Array(4096);
  const reading = (async () => {
    try {
      while ((await conn.read(buf)) !== null) { /* discard */ }
    } catch {
      // A reset counts as closed.
    }
    return Date.now() - started;
  })();
  const result = await within(reading, ms);
  if (result === "timeout") {
    conn.close();
    await reading;
  }
  return result;
}

function assertNoSecret(lines: readonly LogLine[], secret: string): void {
  for (const line of lines) {
    assert.ok(!line.message.includes(secret), `the secret leaked into a log line: ${line.message}`);
  }
}

Deno.test("a runner with the right secret authenticates and runs a call", async () => {
  const { listener, lines } = await openListener();
  const { env, text } = parentEnvFor(listener.addr.port);
  const expectation = await listener.expect(env.id, env.secret);
  const stop = new AbortController();
  const runnerLog = captureLogger();
  const exit = runRunner(text, { signal: stop.signal, logger: runnerLog.logger });
  const conn = await expectation.connection;
  try {
    sendCall(conn, 1, "(a, b) => a * b", [6, 7]);
    let frame = await conn.readFrame();
    while (frame?.type === FrameType.Ping) frame = await conn.readFrame();
    assert.equal(frame?.type, FrameType.Result);
    assert.deepEqual(decodeIdValue(frame!.payload), [1, 42]);
  } finally {
    stop.abort();
    assert.deepEqual(await exit, { code: 0, reason: "stopped", message: "stopped" });
    conn.close();
    await listener.close();
  }
  assert.equal(listener.drops, 0);
  assertNoSecret([...lines, ...runnerLog.lines], env.secret);
});

Deno.test("a runner with the wrong secret is dropped and the expectation stays pending", async () => {
  const { listener, lines } = await openListener();
  const { env } = parentEnvFor(listener.addr.port);
  const expectation = await listener.expect(env.id, env.secret);
  const wrong = parentEnvFor(listener.addr.port, { id: env.id });
  const exit = await runRunner(wrong.text);
  assert.equal(exit.code, 4);
  assert.equal(exit.reason, "auth-failed");
  assert.equal(await within(expectation.connection, 300), "timeout");
  assert.ok(listener.drops >= 1);
  expectation.cancel();
  await listener.close();
  assertNoSecret(lines, env.secret);
  assertNoSecret(lines, wrong.env.secret);
});

Deno.test("the parent drops a peer whose proof is wrong, without a welcome", async () => {
  const { listener } = await openListener();
  const { env } = parentEnvFor(listener.addr.port);
  const expectation = await listener.expect(env.id, env.secret);
  const conn = new FrameConnection(await Deno.connect({ hostname: "127.0.0.1", port: env.port }), {
    maxPayload: HANDSHAKE_MAX_PAYLOAD,
  });
  try {
    conn.send(FrameType.Hello, [helloBytes(env.id).subarray(5)]);
    assert.equal((await conn.readFrame())?.type, FrameType.Challenge);
    const forged = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
    conn.send(FrameType.Proof, [encoder.encode(JSON.stringify({ proof: forged }))]);
    assert.equal(await within(conn.readFrame(), 2000), null);
  } finally {
    conn.close();
  }
  assert.equal(await within(expectation.connection, 100), "timeout");
  expectation.cancel();
  await listener.close();
});

Deno.test("a parent that lacks the secret gets auth-failed and nothing runs", async () => {
  const marker = `__flame_pwned_${crypto.randomUUID().replaceAll("-", "")}`;
  const g = globalThis as Record<string, unknown>;
  const source = `() => { globalThis.${marker} = true; return "ran"; }`;
  const sawClose: boolean[] = [];
  const bogus = new BogusParent(async (conn) => {
    assert.equal((await conn.readFrame())?.type, FrameType.Hello);
    const fake = () => encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
    conn.send(FrameType.Challenge, [
      encoder.encode(JSON.stringify({ nonce: fake(), proof: fake() })),
    ]);
    conn.send(FrameType.Welcome, [encoder.encode("{}")]);
    sendCall(conn, 1, source);
    // Whatever the runner sends now must not be a result, and it must hang up.
    for (let i = 0; i < 10; i++) {
      const frame = await conn.readFrame();
      if (frame === null) {
        sawClose.push(true);
        return;
      }
      assert.notEqual(frame.type, FrameType.Result);
    }
  });
  try {
    const { text } = parentEnvFor(bogus.port);
    const exit = await runRunner(text);
    assert.equal(exit.code, 4);
    assert.equal(exit.reason, "auth-failed");
    assert.match(exit.message, /could not prove/);
  } finally {
    await bogus.close();
  }
  assert.equal(g[marker], undefined);
  assert.deepEqual(sawClose, [true]);
});

Deno.test("a parent that skips the challenge and sends a call gets auth-failed and nothing runs", async () => {
  const marker = `__flame_pwned_${crypto.randomUUID().replaceAll("-", "")}`;
  const g = globalThis as Record<string, unknown>;
  const bogus = new BogusParent(async (conn) => {
    await conn.readFrame();
    sendCall(conn, 1, `() => { globalThis.${marker} = true; }`);
    conn.send(FrameType.Welcome, [encoder.encode("{}")]);
    while ((await conn.readFrame()) !== null) { /* drain until the runner hangs up */ }
  });
  try {
    const exit = await runRunner(parentEnvFor(bogus.port).text);
    assert.equal(exit.code, 4);
    assert.match(exit.message, /Expected challenge frame/);
  } finally {
    await bogus.close();
  }
  assert.equal(g[marker], undefined);
});

/** Wraps a socket and keeps a copy of every byte written. */
class RecordingSocket implements Socket {
  written: Uint8Array[] = [];
  #inner: Deno.Conn;
  constructor(inner: Deno.Conn) {
    this.#inner = inner;
  }
  read(p: Uint8Array): Promise<number | null> {
    return this.#inner.read(p);
  }
  async write(p: Uint8Array): Promise<number> {
    const n = await this.#inner.write(p);
    this.written.push(p.slice(0, n));
    return n;
  }
  close(): void {
    this.#inner.close();
  }
}

Deno.test("a replayed handshake is dropped", async () => {
  const { listener } = await openListener();
  const { env } = parentEnvFor(listener.addr.port);
  const key = await importSecret(env.secret);
  const first = await listener.expect(env.id, env.secret);
  const recorder = new RecordingSocket(
    await Deno.connect({ hostname: "127.0.0.1", port: env.port }),
  );
  const runnerSide = new FrameConnection(recorder, { maxPayload: HANDSHAKE_MAX_PAYLOAD });
  await authenticateToParent(runnerSide, env.id, key);
  (await first.connection).close();
  runnerSide.close();

  const decoder = new FrameDecoder({ maxPayload: HANDSHAKE_MAX_PAYLOAD });
  for (const chunk of recorder.written) decoder.push(chunk);
  const recorded: Frame[] = [];
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) recorded.push(f);
  assert.deepEqual(recorded.map((f) => f.type), [FrameType.Hello, FrameType.Proof]);

  // Replayed against the same id and secret, expected again (a reconnect): the fresh
  // parent nonce makes the recorded proof worthless.
  const again = await listener.expect(env.id, env.secret);
  const drops = listener.drops;
  const replay = new FrameConnection(
    await Deno.connect({ hostname: "127.0.0.1", port: env.port }),
    { maxPayload: HANDSHAKE_MAX_PAYLOAD },
  );
  try {
    replay.send(FrameType.Hello, [recorded[0]!.payload]);
    assert.equal((await replay.readFrame())?.type, FrameType.Challenge);
    replay.send(FrameType.Proof, [recorded[1]!.payload]);
    assert.equal(await within(replay.readFrame(), 2000), null);
  } finally {
    replay.close();
  }
  assert.equal(await within(again.connection, 100), "timeout");
  assert.equal(listener.drops, drops + 1);
  again.cancel();

  // Replayed once the id is no longer expected: dropped at the hello.
  const late = await Deno.connect({ hostname: "127.0.0.1", port: env.port });
  await late.write(frameBytes(FrameType.Hello, recorded[0]!.payload));
  assert.notEqual(await closedWithin(late, 2000), "timeout");
  late.close();
  await listener.close();
});

Deno.test("the parent drops a peer that sends garbage", async () => {
  const { listener } = await openListener();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  assert.notEqual(await closedWithin(conn, 2000), "timeout");
  conn.close();
  assert.equal(listener.drops, 1);
  await listener.close();
});

Deno.test("the parent drops a peer that announces a 4 GiB frame", async () => {
  const { listener, lines } = await openListener();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  await conn.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, FrameType.Hello]));
  assert.notEqual(await closedWithin(conn, 2000), "timeout");
  conn.close();
  assert.equal(listener.drops, 1);
  assert.match(lines.map((l) => l.message).join("\n"), /4294967295 bytes exceeds/);
  await listener.close();
});

Deno.test("the parent drops a slow-loris sender at the handshake deadline", async () => {
  const { listener } = await openListener({ handshakeTimeout: 500 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const hello = helloBytes("slow");
  const started = Date.now();
  const closed = closedWithin(conn, 5000);
  let sent = 0;
  try {
    for (; sent < hello.length && Date.now() - started < 5000; sent++) {
      await conn.write(hello.subarray(sent, sent + 1));
      const result = await within(closed, 100);
      if (result !== "timeout") break;
    }
  } catch {
    // Writing after the parent hung up may fail: that is the point.
  }
  const after = await closed;
  conn.close();
  assert.notEqual(after, "timeout");
  assert.ok(sent < hello.length, "the whole hello was sent before the drop");
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 400 && elapsed < 1500, `dropped after ${elapsed} ms`);
  assert.equal(listener.drops, 1);
  await listener.close();
});

Deno.test("1000 concurrent bogus connections: a real runner still gets in, drops are logged once", async () => {
  const { listener, lines } = await openListener({ handshakeTimeout: 1000 });
  const port = listener.addr.port;
  const { env, text } = parentEnvFor(port, { connectTimeout: 10_000 });
  const expectation = await listener.expect(env.id, env.secret);
  const started = Date.now();
  const bogus = async (i: number) => {
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      return;
    }
    try {
      switch (i % 4) {
        case 0: // silent, half-open
          break;
        case 1:
          await conn.write(crypto.getRandomValues(new Uint8Array(64)));
          break;
        case 2:
          await conn.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1]));
          break;
        case 3: // claims the real runner's id, then cannot prove it
          await conn.write(helloBytes(env.id));
          await conn.write(frameBytes(FrameType.Proof, encoder.encode('{"proof":"AAAA"}')));
          break;
      }
    } catch {
      // The parent may hang up first.
    }
    await closedWithin(conn, 5000);
    conn.close();
  };
  const flood = Promise.all(Array.from({ length: 1000 }, (_, i) => bogus(i)));
  const stop = new AbortController();
  const runnerLog = captureLogger();
  const exit = runRunner(text, { signal: stop.signal, logger: runnerLog.logger });
  const conn = await within(expectation.connection, 10_000);
  try {
    assert.notEqual(conn, "timeout", "the real runner did not get in");
    if (conn === "timeout") return;
    sendCall(conn, 7, "() => 'still works'");
    let frame = await conn.readFrame();
    while (frame?.type === FrameType.Ping) frame = await conn.readFrame();
    assert.deepEqual(decodeIdValue(frame!.payload), [7, "still works"]);
  } finally {
    await flood;
    stop.abort();
    const ended = await exit;
    if (conn !== "timeout") conn.close();
    await listener.close();
    assert.equal(ended.reason, "stopped", ended.message);
  }
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 15_000, `flood took ${elapsed} ms`);
  assert.ok(listener.drops >= 1000, `${listener.drops} drops`);
  const warns = lines.filter((l) => l.level === "warn");
  assert.ok(warns.length >= 1 && warns.length <= 2, `${warns.length} warn lines`);
  assertNoSecret([...lines, ...runnerLog.lines], env.secret);
});

Deno.test("the parent evicts the oldest waiting connection, so silent sockets cannot lock runners out", async () => {
  // A small bound, to reach it with few sockets.
  const log = captureLogger();
  const small = await ParentListener.open("127.0.0.1", 0, {
    logger: log.logger,
    maxPending: 8,
    handshakeTimeout: 30_000,
  });
  const port = small.addr.port;
  const silent: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 8; i++) silent.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    const oldestClosed = closedWithin(silent[0]!, 5000);
    const { env, text } = parentEnvFor(port);
    const expectation = await small.expect(env.id, env.secret);
    const stop = new AbortController();
    const started = Date.now();
    const exit = runRunner(text, { signal: stop.signal });
    const conn = await within(expectation.connection, 5000);
    const elapsed = Date.now() - started;
    stop.abort();
    assert.equal((await exit).reason, "stopped");
    if (conn !== "timeout") conn.close();
    assert.notEqual(conn, "timeout", "the runner was locked out");
    assert.ok(elapsed < 2000, `the runner got in after ${elapsed} ms`);
    assert.notEqual(await oldestClosed, "timeout", "the oldest silent socket was not evicted");
  } finally {
    for (const s of silent) {
      try {
        s.close();
      } catch {
        // Closed by closedWithin.
      }
    }
    await small.close();
  }
});

Deno.test("a runner dials again when the parent hangs up before its challenge", async () => {
  const secret = generateSecret();
  const key = await importSecret(secret);
  let accepted = 0;
  const bogus = new BogusParent(async (conn) => {
    if (++accepted === 1) return; // hung up at once, as an evicting parent does
    await authenticateRunner(conn, () => key);
    conn.send(FrameType.Shutdown, encodeId(0));
    while ((await conn.readFrame()) !== null) { /* until the runner hangs up */ }
  });
  try {
    const exit = await runRunner(parentEnvFor(bogus.port, { secret }).text);
    assert.equal(exit.reason, "shutdown", exit.message);
    assert.equal(accepted, 2);
  } finally {
    await bogus.close();
  }
});

Deno.test({
  name: "the parent's port keeps accepting after running out of file descriptors",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const fixture = new URL("../fixtures/listener_fd_limit.ts", import.meta.url).pathname;
    const child = new Deno.Command("sh", {
      args: ["-c", 'ulimit -n 64 && exec "$0" run -A "$1"', Deno.execPath(), fixture],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    const nextLine = async (): Promise<string> => {
      for (let i = 0; i < 100 && !buffered.includes("\n"); i++) {
        const { value, done } = await lines.read();
        if (done) break;
        buffered += value;
      }
      const at = buffered.indexOf("\n");
      const line = at < 0 ? buffered : buffered.slice(0, at);
      buffered = at < 0 ? "" : buffered.slice(at + 1);
      return line;
    };
    const flood: Deno.Conn[] = [];
    try {
      const { port, parentEnv } = JSON.parse(await nextLine());
      // Far more than 64 descriptors' worth of silent sockets: accept() fails with EMFILE.
      for (let i = 0; i < 100; i++) flood.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      await new Promise((r) => setTimeout(r, 1500));
      for (const c of flood.splice(0)) c.close();
      const exit = await runRunner(parentEnv, { signal: AbortSignal.timeout(10_000) });
      assert.equal(await within(nextLine(), 15_000), "authenticated", exit.message);
    } finally {
      for (const c of flood) c.close();
      await lines.cancel().catch(() => {});
      const status = await within(child.status, 25_000);
      if (status === "timeout") {
        child.kill("SIGKILL");
        await child.status;
      }
    }
  },
});

Deno.test("a listener on every interface with acceptOn takes only connections that arrive there", async () => {
  // As for a parent on the host of a local Podman, whose bridge address comes up with the
  // first runner: 127.0.0.2 stands for the gateway, 127.0.0.1 for any other interface.
  const log = captureLogger();
  const listener = await ParentListener.open("0.0.0.0", 0, {
    logger: log.logger,
    acceptOn: "127.0.0.2",
    dropLogInterval: 0,
  });
  try {
    const elsewhere = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    assert.notEqual(await closedWithin(elsewhere, 2000), "timeout", "not closed at once");
    elsewhere.close();
    assert.equal(listener.drops, 1);
    assert.match(
      log.lines.map((l) => l.message).join("\n"),
      /arrived at 127\.0\.0\.1, not at 127\.0\.0\.2/,
    );

    const { env, text } = parentEnvFor(listener.addr.port, { host: "127.0.0.2" });
    const expectation = await listener.expect(env.id, env.secret);
    const stop = new AbortController();
    const exit = runRunner(text, { signal: stop.signal, logger: captureLogger().logger });
    const conn = await expectation.connection;
    try {
      sendCall(conn, 1, "() => 7");
      let frame = await conn.readFrame();
      while (frame?.type === FrameType.Ping) frame = await conn.readFrame();
      assert.deepEqual(decodeIdValue(frame!.payload), [1, 7]);
    } finally {
      stop.abort();
      await exit;
      conn.close();
    }
    assert.equal(listener.drops, 1);
  } finally {
    await listener.close();
  }
});
