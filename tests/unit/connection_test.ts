/**
 * FrameConnection over a real loopback socket: what reaches the peer is
 * exactly what was sent, whatever the caller does with its buffers after
 * `send()` returns as the contract allows (the head is always copied, small
 * frames are copied whole, large parts are written in place).
 */

import assert from "node:assert/strict";
import { FrameConnection } from "../../src/protocol/connection.ts";
import { concat } from "../../src/util/bytes.ts";

async function pair(): Promise<[FrameConnection, FrameConnection]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [a, b] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
      listener.accept(),
    ]);
    return [
      new FrameConnection(a, { maxPayload: 1 << 24 }),
      new FrameConnection(b, { maxPayload: 1 << 24 }),
    ];
  } finally {
    listener.close();
  }
}

/** Runs `fn` with a connected pair and closes both ends after, pass or fail. */
async function withPair(
  fn: (a: FrameConnection, b: FrameConnection) => Promise<void>,
): Promise<void> {
  const [a, b] = await pair();
  try {
    await fn(a, b);
  } finally {
    a.close();
    b.close();
  }
}

Deno.test("send() copies the head at once for small and large frames, and small frames whole", () =>
  withPair(async (a, b) => {
    const head = new Uint8Array(8);
    const small = new Uint8Array([1, 2, 3]);
    const medium = new Uint8Array(100).fill(4); // past the byte-by-byte copy
    const large = new Uint8Array(200_000).map((_, i) => i & 0xff); // a frame over 64 KiB
    const expected: Uint8Array[] = [];
    for (let i = 0; i < 6; i++) {
      head.fill(i + 1);
      const parts = i === 5 ? [large] : [small, medium];
      a.send(10, parts, head);
      expected.push(concat([new Uint8Array(8).fill(i + 1), ...parts]));
      // Reused at once, as RunnerLink reuses its call head.
      head.fill(0xee);
      if (i !== 5) {
        small.fill(0xee); // a small frame is already copied
        medium.fill(0xee);
        small.set([1, 2, 3]);
        medium.fill(4);
      }
    }
    a.send(11); // no payload, no head
    expected.push(new Uint8Array(0));
    await a.flushed();
    for (const want of expected) {
      const frame = await b.readFrame();
      assert.ok(frame !== null);
      assert.equal(frame.type, want.length === 0 ? 11 : 10);
      assert.deepEqual(frame.payload, want);
    }
  }));

Deno.test("flushed() resolves once queued frames are written, including ones queued meanwhile", () =>
  withPair(async (a, b) => {
    const big = new Uint8Array(1 << 20).fill(9);
    a.send(1, [big]);
    const flushed = a.flushed();
    a.send(2, [new Uint8Array([7])]);
    // The peer drains while we wait: 1 MiB may exceed the socket buffers.
    const reading = (async () => {
      const first = await b.readFrame();
      const second = await b.readFrame();
      return [first, second];
    })();
    await flushed;
    const [first, second] = await reading;
    assert.equal(first?.payload.length, 1 << 20);
    assert.deepEqual(second?.payload, new Uint8Array([7]));
  }));

Deno.test("a caller's 16 KiB part is never taken for the connection's own write buffer", () =>
  withPair(async (a, b) => {
    // The small-frame buffer is 16 KiB; a part of a large frame may be one too.
    const mine = new Uint8Array(16 * 1024).fill(0x5a);
    a.send(1, [new Uint8Array(64 * 1024), mine]);
    await a.flushed();
    for (let i = 0; i < 50; i++) a.send(2, [new Uint8Array([i, i, i])]);
    await a.flushed();
    assert.ok(mine.every((x) => x === 0x5a), "the caller's buffer was written into");
    assert.equal((await b.readFrame())?.payload.length, 80 * 1024);
    for (let i = 0; i < 50; i++) {
      assert.deepEqual((await b.readFrame())?.payload, new Uint8Array([i, i, i]));
    }
  }));

Deno.test("readEach() hands over every frame in order, once per read calls onRead, ends at EOF", () =>
  withPair(async (a, b) => {
    for (let i = 0; i < 300; i++) a.send(3, [new Uint8Array([i & 0xff])]);
    a.send(4, [new Uint8Array(100_000).fill(1)]); // a large frame read straight into place
    await a.flushed();
    a.close();
    const seen: number[] = [];
    let reads = 0;
    let framesAtLastRead = 0;
    await b.readEach((f) => {
      seen.push(f.type === 3 ? f.payload[0]! : f.payload.length);
    }, () => {
      reads++;
      assert.ok(seen.length > framesAtLastRead, "onRead without new frames");
      framesAtLastRead = seen.length;
    });
    assert.deepEqual(seen, [...Array.from({ length: 300 }, (_, i) => i & 0xff), 100_000]);
    assert.ok(reads >= 1 && reads <= 301, `${reads} reads`);
    assert.ok(b.closed);
  }));

Deno.test("readEach() stops when a frame handler closes the connection, and throws on an oversize frame", async () => {
  await withPair(async (a, b) => {
    for (let i = 0; i < 5; i++) a.send(5, [new Uint8Array([i])]);
    await a.flushed();
    const seen: number[] = [];
    await b.readEach((f) => {
      seen.push(f.payload[0]!);
      if (seen.length === 2) b.close();
    });
    assert.deepEqual(seen, [0, 1]);
  });
  await withPair(async (c, d) => {
    d.maxPayload = 10;
    c.send(6, [new Uint8Array(11)]);
    await assert.rejects(d.readEach(() => {}), /exceeds the limit of 10/);
  });
});

Deno.test("flushed() resolves when the connection closes with a write still pending", () =>
  withPair(async (a, _b) => {
    // The peer never reads: 8 MiB cannot all fit in the socket buffers.
    a.send(1, [new Uint8Array(8 << 20)]);
    const flushed = a.flushed();
    await new Promise((r) => setTimeout(r, 20));
    a.close();
    await flushed;
    assert.ok(a.closed);
  }));

Deno.test("a failed socket write closes the connection and is kept as writeError", async () => {
  const failure = new Error("disk on fire");
  let closed = 0;
  for (const throwAtOnce of [false, true]) {
    const socket = {
      read: () => new Promise<number | null>(() => {}),
      write: (_p: Uint8Array): Promise<number> => {
        if (throwAtOnce) throw failure;
        return Promise.reject(failure);
      },
      close: () => void closed++,
    };
    const fc = new FrameConnection(socket, { maxPayload: 1024 });
    fc.send(1, [new Uint8Array([1, 2, 3])]);
    await fc.flushed();
    assert.ok(fc.closed);
    assert.equal(fc.writeError, failure);
    fc.send(2); // after close: dropped, no throw
  }
  assert.equal(closed, 2);
});

Deno.test("a write the socket takes in pieces is finished in order, then the next frames follow", async () => {
  const written: number[] = [];
  const socket = {
    read: () => new Promise<number | null>(() => {}),
    // Takes a few bytes to a few KiB per write, never at once.
    write: async (p: Uint8Array): Promise<number> => {
      await null;
      const n = Math.min(1 + (written.length * 7919) % 5000, p.length);
      written.push(...p.subarray(0, n));
      return n;
    },
    close: () => {},
  };
  const fc = new FrameConnection(socket, { maxPayload: 1024 });
  const big = new Uint8Array(70 * 1024).map((_, i) => i & 0xff);
  fc.send(1, [new Uint8Array([9, 8, 7, 6])]);
  fc.send(2, [big]);
  fc.send(3, [new Uint8Array([5])]);
  await fc.flushed();
  const expected = concat([
    new Uint8Array([0, 0, 0, 4, 1, 9, 8, 7, 6]),
    new Uint8Array([0, 1, 0x18, 0, 2]),
    big,
    new Uint8Array([0, 0, 0, 1, 3, 5]),
  ]);
  assert.equal(written.length, expected.length);
  assert.deepEqual(new Uint8Array(written), expected);
  fc.close();
});
