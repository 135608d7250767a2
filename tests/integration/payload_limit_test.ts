/**
 * A value over the link's frame limit (1 GiB) is a typed error for its call,
 * never the end of the link: arguments are measured before anything is sent,
 * and a runner refuses to send an oversize result with an `Error` frame from
 * `checkResultSize` that the parent turns into the same `PayloadTooLargeError`.
 *
 * The oversize values are fresh `Uint8Array`s that nothing writes: their
 * pages are never touched, so they cost no memory (checked).
 */

import assert from "node:assert/strict";
import { LocalBackend, PayloadTooLargeError, Pool, RemoteError } from "../../mod.ts";
import { FrameConnection } from "../../src/protocol/connection.ts";
import { encodeValue } from "../../src/protocol/codec.ts";
import {
  checkResultSize,
  decodeCall,
  decodeError,
  encodeCallBody,
  encodeIdValue,
  FrameType,
  LINK_MAX_PAYLOAD,
  RESULT_HEADER_SIZE,
} from "../../src/protocol/messages.ts";
import { type CallSink, RunnerLink } from "../../src/parent/runner_link.ts";
import { connectTcp, listenTcp } from "../../src/transport.ts";
import { silentLogger } from "../../src/util/logger.ts";

/** Memory a test may add while holding its untouched 1 GiB buffer. */
const RSS_SLACK = 128 * 1024 * 1024;

Deno.test("an argument over the frame limit rejects with PayloadTooLargeError; the runner stays", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  const runnerId = await pool.call(function () {
    return this.runnerId;
  });
  const rssBefore = Deno.memoryUsage().rss;
  const huge = new Uint8Array(LINK_MAX_PAYLOAD);
  const err = await pool.call((b: Uint8Array) => b.length, [huge]).catch((e) => e);
  assert.ok(err instanceof PayloadTooLargeError, String(err));
  assert.equal(err.limit, LINK_MAX_PAYLOAD);
  assert.ok(err.size > LINK_MAX_PAYLOAD && err.size < LINK_MAX_PAYLOAD + 64, String(err.size));
  assert.match(err.message, new RegExp(`${err.size} bytes.*limit of ${LINK_MAX_PAYLOAD} bytes`));
  assert.ok(Deno.memoryUsage().rss - rssBefore < RSS_SLACK, "the buffer was never touched");
  // Nothing was sent: the same runner answers the next call.
  const after = await pool.call(function () {
    return this.runnerId;
  });
  assert.equal(after, runnerId);
  const stats = pool.stats();
  assert.deepEqual([stats.boots, stats.callsFailed, stats.busySlots], [1, 1, 0]);
});

Deno.test("an argument over the frame limit is refused before any runner boots", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  await assert.rejects(
    pool.call((b: Uint8Array) => b.length, [new Uint8Array(LINK_MAX_PAYLOAD)]),
    PayloadTooLargeError,
  );
  assert.equal(pool.stats().boots, 0);
});

Deno.test("checkResultSize() passes a payload at the limit and refuses one a byte over", () => {
  const parts = encodeValue(new Uint8Array(100));
  const size = RESULT_HEADER_SIZE + parts.reduce((n, p) => n + p.length, 0);
  assert.equal(checkResultSize(3, parts, { head: RESULT_HEADER_SIZE, limit: size }), undefined);
  const refusal = checkResultSize(3, parts, { head: RESULT_HEADER_SIZE, limit: size - 1 });
  assert.ok(refusal !== undefined);
  const [id, wire] = decodeError(refusal[0]!);
  assert.equal(id, 3);
  assert.equal(wire.name, "PayloadTooLargeError");
  assert.deepEqual(wire.tooLarge, { size, limit: size - 1 });
  assert.match(wire.message, /^Cannot return the result: it encodes to \d+ bytes/);
  // A stream chunk's parts carry their header.
  const chunk = encodeIdValue(3, "x".repeat(50));
  const [, streamWire] = decodeError(checkResultSize(3, chunk, { stream: true, limit: 20 })![0]!);
  assert.match(streamWire.message, /^Cannot return a stream value/);
  // The default limit is the link's.
  assert.equal(checkResultSize(3, [new Uint8Array(LINK_MAX_PAYLOAD - 4)], { head: 4 }), undefined);
  assert.ok(checkResultSize(3, [new Uint8Array(LINK_MAX_PAYLOAD - 3)], { head: 4 }) !== undefined);
});

/** A sink that records the outcome of one call. */
function sink(): CallSink & { outcome: Promise<{ ok: boolean; value: unknown }> } {
  const outcome = Promise.withResolvers<{ ok: boolean; value: unknown }>();
  return {
    outcome: outcome.promise,
    settle: (ok, value) => outcome.resolve({ ok, value }),
    done: () => {},
  };
}

Deno.test("the parent turns a runner's oversize-result refusal into PayloadTooLargeError and keeps the link", async () => {
  const listener = await listenTcp("127.0.0.1", 0);
  const accepted = listener.accept();
  const parentSide = new FrameConnection(await connectTcp("127.0.0.1", listener.addr.port), {
    maxPayload: 1024,
  });
  const runnerSide = new FrameConnection(await accepted, { maxPayload: LINK_MAX_PAYLOAD });
  listener.close();
  const link = new RunnerLink(
    "r1",
    parentSide,
    { interval: 10_000, timeout: 20_000 },
    silentLogger,
  );
  try {
    // The scripted runner: the first call's result is "too large" for a 64-byte
    // limit, so it sends the refusal instead; the second's goes through.
    const answered = (async () => {
      for (let n = 0; n < 2; n++) {
        const frame = await runnerSide.readFrame();
        assert.equal(frame?.type, FrameType.Call);
        const call = decodeCall(frame!.payload, frame!.shared);
        const parts = encodeValue("x".repeat(100));
        const refusal = checkResultSize(call.id, parts, {
          head: RESULT_HEADER_SIZE,
          limit: n === 0 ? 64 : LINK_MAX_PAYLOAD,
        });
        if (refusal !== undefined) runnerSide.send(FrameType.Error, refusal);
        else runnerSide.send(FrameType.Result, encodeIdValue(call.id, "fits"));
      }
    })();
    const body = encodeCallBody({ kind: "fn", source: "() => 1" }, []);
    const first = sink();
    link.call(body, 0, first);
    const { ok, value } = await first.outcome;
    assert.equal(ok, false);
    assert.ok(value instanceof PayloadTooLargeError, String(value));
    assert.equal(value.limit, 64);
    assert.ok(value.size > 100);
    assert.match(value.message, /over the link's frame limit of 64 bytes/);
    const second = sink();
    link.call(body, 0, second);
    assert.deepEqual(await second.outcome, { ok: true, value: "fits" });
    assert.equal(link.isClosed, false);
    await answered;
  } finally {
    link.close("test over");
    runnerSide.close();
  }
});

Deno.test("a function's own error named PayloadTooLargeError stays a RemoteError", async () => {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
  const err = await pool.call(() => {
    const e = new Error("Mine");
    e.name = "PayloadTooLargeError";
    Object.assign(e, { tooLarge: { size: 2, limit: 1 } });
    throw e;
  }).catch((e) => e);
  assert.ok(err instanceof RemoteError, String(err));
  assert.equal(err.remoteName, "PayloadTooLargeError");
});

Deno.test({
  name: "a result over the frame limit rejects with PayloadTooLargeError; the runner stays",
  fn: async () => {
    await using pool = new Pool({ backend: new LocalBackend(), max: 1 });
    const runnerId = await pool.call(function () {
      return this.runnerId;
    });
    const err = await pool.call((n: number) => new Uint8Array(n), [LINK_MAX_PAYLOAD])
      .catch((e) => e);
    assert.ok(err instanceof PayloadTooLargeError, String(err));
    assert.equal(err.limit, LINK_MAX_PAYLOAD);
    const streamed = await (async () => {
      for await (
        const _ of pool.call(async function* (n: number) {
          yield new Uint8Array(n);
        }, [LINK_MAX_PAYLOAD])
      ) { /* the first value is refused */ }
    })().catch((e) => e);
    assert.ok(streamed instanceof PayloadTooLargeError, String(streamed));
    assert.equal(
      await pool.call(function () {
        return this.runnerId;
      }),
      runnerId,
    );
  },
});
