/**
 * FrameDecoder: a pure push parser, tested on bytes delivered in every split.
 */

import assert from "node:assert/strict";
import { encodeFrameHeader, type Frame, FrameDecoder } from "../../src/protocol/frame.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";
import { mulberry32 } from "../_helpers/prng.ts";

interface Spec {
  type: number;
  payload: Uint8Array;
}

function encode(frames: readonly Spec[]): Uint8Array {
  const total = frames.reduce((n, f) => n + 5 + f.payload.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const f of frames) {
    out.set(encodeFrameHeader(f.type, f.payload.length), at);
    out.set(f.payload, at + 5);
    at += 5 + f.payload.length;
  }
  return out;
}

function drain(decoder: FrameDecoder, into: Frame[]): void {
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) into.push(f);
}

/** Feeds `stream` cut at `cuts` (sorted offsets), returns every frame. */
function decodeSplit(stream: Uint8Array, cuts: readonly number[], maxPayload = 1 << 20): Frame[] {
  const decoder = new FrameDecoder({ maxPayload });
  const out: Frame[] = [];
  let from = 0;
  let n = 0;
  for (const cut of [...cuts, stream.length]) {
    // A copy the test then scribbles over: the decoder must not keep views of it.
    const chunk = stream.slice(from, cut);
    if (n++ % 2 === 0) {
      decoder.push(chunk);
      chunk.fill(0xee);
    } else {
      // As a socket read delivers it: the count into a reused buffer with stale bytes after it.
      const readBuf = new Uint8Array(chunk.length + 16).fill(0xaa);
      readBuf.set(chunk);
      decoder.push(readBuf, chunk.length);
      readBuf.fill(0xee);
    }
    drain(decoder, out);
    from = cut;
  }
  assert.equal(decoder.buffered, 0, "bytes left over after the last frame");
  return out;
}

function assertFrames(actual: readonly Frame[], expected: readonly Spec[], context: string): void {
  assert.equal(actual.length, expected.length, `${context}: frame count`);
  for (let i = 0; i < expected.length; i++) {
    assert.equal(actual[i]!.type, expected[i]!.type, `${context}: type of frame ${i}`);
    assert.deepEqual(actual[i]!.payload, expected[i]!.payload, `${context}: payload of frame ${i}`);
  }
}

function randomFrames(rand: () => number, count: number, maxLen: number): Spec[] {
  const frames: Spec[] = [];
  for (let i = 0; i < count; i++) {
    // Zero-length payloads are frequent on purpose (pings, pongs, welcome).
    const len = rand() < 0.25 ? 0 : Math.floor(rand() * maxLen);
    const payload = new Uint8Array(len);
    for (let j = 0; j < len; j++) payload[j] = Math.floor(rand() * 256);
    frames.push({ type: Math.floor(rand() * 256), payload });
  }
  return frames;
}

const SMALL: Spec[] = [
  { type: 1, payload: new Uint8Array([1, 2, 3]) },
  { type: 20, payload: new Uint8Array(0) },
  { type: 255, payload: new Uint8Array([0, 0, 0, 0, 5, 9]) },
  { type: 0, payload: new Uint8Array(0) },
  { type: 11, payload: new Uint8Array([7]) },
];

Deno.test("FrameDecoder decodes a small stream cut at every single offset", () => {
  const stream = encode(SMALL);
  for (let a = 0; a <= stream.length; a++) {
    assertFrames(decodeSplit(stream, [a]), SMALL, `cut at ${a}`);
  }
});

Deno.test("FrameDecoder decodes a small stream cut at every pair of offsets", () => {
  const stream = encode(SMALL);
  let cases = 0;
  for (let a = 0; a <= stream.length; a++) {
    for (let b = a; b <= stream.length; b++) {
      assertFrames(decodeSplit(stream, [a, b]), SMALL, `cuts at ${a} and ${b}`);
      cases++;
    }
  }
  assert.ok(cases > 500, `only ${cases} cases`);
});

Deno.test("FrameDecoder decodes a stream delivered one byte at a time", () => {
  const stream = encode(SMALL);
  const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
  assertFrames(decodeSplit(stream, cuts), SMALL, "byte by byte");
});

Deno.test("FrameDecoder decodes thousands of random streams over random chunkings", () => {
  const seed = Number(Deno.env.get("FRAME_TEST_SEED") ?? Date.now() % 2 ** 31);
  const rand = mulberry32(seed);
  const deadline = Date.now() + 10_000;
  let cases = 0;
  try {
    for (; cases < 3000 && Date.now() < deadline; cases++) {
      const frames = randomFrames(rand, 1 + Math.floor(rand() * 8), rand() < 0.1 ? 3000 : 40);
      const stream = encode(frames);
      const cutCount = Math.floor(rand() * 12);
      const cuts = Array.from({ length: cutCount }, () => Math.floor(rand() * (stream.length + 1)))
        .sort((x, y) => x - y);
      assertFrames(decodeSplit(stream, cuts), frames, `case ${cases}`);
    }
  } catch (err) {
    console.error(`FrameDecoder random chunking failed; replay with FRAME_TEST_SEED=${seed}`);
    throw err;
  }
  assert.ok(cases >= 1000, `only ${cases} cases ran before the time bound (seed ${seed})`);
});

Deno.test("FrameDecoder assembles a 4 MiB frame from many small chunks", () => {
  const rand = mulberry32(7);
  const payload = new Uint8Array(4 * 1024 * 1024);
  for (let i = 0; i < payload.length; i += 4096) payload[i] = Math.floor(rand() * 256);
  payload[payload.length - 1] = 0xab;
  const stream = encode([{ type: 11, payload }, { type: 21, payload: new Uint8Array(0) }]);
  const decoder = new FrameDecoder({ maxPayload: payload.length });
  const out: Frame[] = [];
  let chunks = 0;
  for (let at = 0; at < stream.length; chunks++) {
    const size = 1 + Math.floor(rand() * 70_000);
    decoder.push(stream.subarray(at, at + size));
    drain(decoder, out);
    at += size;
  }
  assert.ok(chunks > 100);
  assert.equal(out.length, 2);
  assert.equal(out[0]!.type, 11);
  assert.deepEqual(out[0]!.payload, payload);
  assert.equal(out[1]!.type, 21);
  assert.equal(out[1]!.payload.length, 0);
});

Deno.test("FrameDecoder decodes zero-length payloads alone and in a run", () => {
  const decoder = new FrameDecoder({ maxPayload: 0 });
  decoder.push(encodeFrameHeader(20, 0));
  const one = decoder.next();
  assert.equal(one?.type, 20);
  assert.equal(one?.payload.length, 0);
  assert.equal(decoder.next(), undefined);
  const run = encode(
    Array.from({ length: 100 }, (_, i) => ({ type: i, payload: new Uint8Array(0) })),
  );
  decoder.push(run);
  const out: Frame[] = [];
  drain(decoder, out);
  assert.deepEqual(out.map((f) => f.type), Array.from({ length: 100 }, (_, i) => i));
});

Deno.test("FrameDecoder rejects a 4 GiB length prefix before allocating", () => {
  const decoder = new FrameDecoder({ maxPayload: 1024 });
  const header = new Uint8Array([0xff, 0xff, 0xff, 0xff, 10]);
  const before = Deno.memoryUsage().rss;
  assert.throws(
    () => decoder.push(header),
    (err) =>
      err instanceof ProtocolError &&
      /4294967295 bytes exceeds the limit of 1024/.test(err.message),
  );
  // Nothing near the announced size was reserved.
  assert.ok(Deno.memoryUsage().rss - before < 64 * 1024 * 1024);
  assert.ok(decoder.buffered < 64);
  // Same on an authenticated link, whose limit is 1 GiB.
  const link = new FrameDecoder({ maxPayload: 1024 * 1024 * 1024 });
  assert.throws(() => link.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 11, 0])), ProtocolError);
  assert.ok(Deno.memoryUsage().rss - before < 64 * 1024 * 1024);
});

Deno.test("FrameDecoder rejects an oversize frame even when its header arrives byte by byte", () => {
  const decoder = new FrameDecoder({ maxPayload: 1024 });
  const header = encodeFrameHeader(10, 1025);
  for (let i = 0; i < 4; i++) decoder.push(header.subarray(i, i + 1));
  assert.throws(() => decoder.push(header.subarray(4)), ProtocolError);
});

Deno.test("FrameDecoder rejects an oversize frame that follows a good one in the same chunk", () => {
  const decoder = new FrameDecoder({ maxPayload: 8 });
  const good = encode([{ type: 1, payload: new Uint8Array([1, 2]) }]);
  const chunk = new Uint8Array(good.length + 5);
  chunk.set(good);
  chunk.set(encodeFrameHeader(1, 9), good.length);
  decoder.push(chunk);
  assert.deepEqual(decoder.next()?.payload, new Uint8Array([1, 2]));
  assert.throws(() => decoder.next(), ProtocolError);
});

Deno.test("FrameDecoder judges a frame by the limit in force when the frames before it are taken", () => {
  // The handshake race: the parent's Welcome and its first (large) Call arrive in
  // one read, and the runner raises its limit only after taking the Welcome.
  const decoder = new FrameDecoder({ maxPayload: 8 });
  const welcome = encode([{ type: 4, payload: new Uint8Array([7]) }]);
  const call = encode([{ type: 10, payload: new Uint8Array(3000).fill(5) }]);
  const chunk = new Uint8Array(welcome.length + call.length);
  chunk.set(welcome);
  chunk.set(call, welcome.length);
  decoder.push(chunk.subarray(0, welcome.length + 100));
  assert.equal(decoder.next()?.type, 4);
  decoder.maxPayload = 1 << 20;
  decoder.push(chunk.subarray(welcome.length + 100));
  const big = decoder.next();
  assert.equal(big?.type, 10);
  assert.equal(big?.payload.length, 3000);
  assert.ok(big?.payload.every((b) => b === 5));
  assert.equal(decoder.next(), undefined);
});

Deno.test("FrameDecoder accepts a payload of exactly the limit and applies a raised limit", () => {
  const decoder = new FrameDecoder({ maxPayload: 4 });
  decoder.push(encode([{ type: 3, payload: new Uint8Array(4) }]));
  assert.equal(decoder.next()?.payload.length, 4);
  assert.throws(() => decoder.push(encodeFrameHeader(3, 5)), ProtocolError);
  const raised = new FrameDecoder({ maxPayload: 4 });
  raised.maxPayload = 5;
  raised.push(encode([{ type: 3, payload: new Uint8Array(5) }]));
  assert.equal(raised.next()?.payload.length, 5);
});
