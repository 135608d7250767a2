/**
 * Messages and the small-frame fast paths: frames copied into a shared slab,
 * call headers from the encoder's slab, the call-text cache and the short
 * ASCII JSON reader. Each shortcut must give exactly what the plain path gives.
 */

import assert from "node:assert/strict";
import {
  encodeFrameHeader,
  type Frame,
  FrameDecoder,
  SLAB_PAYLOAD_MAX,
} from "../../src/protocol/frame.ts";
import { decodeValue, encodeValue } from "../../src/protocol/codec.ts";
import {
  CALL_HEADER_SIZE,
  decodeCall,
  decodeIdValue,
  decodeResultId,
  decodeResultValue,
  encodeCallBody,
  encodeCallHeader,
  encodeIdValue,
  RESULT_HEADER_SIZE,
  writeResultHeader,
} from "../../src/protocol/messages.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";
import { concat } from "../../src/util/bytes.ts";

function frameOf(type: number, parts: readonly Uint8Array[]): Uint8Array {
  const payload = concat(parts);
  return concat([encodeFrameHeader(type, payload.length), payload]);
}

function decodeAll(bytes: Uint8Array): Frame[] {
  const decoder = new FrameDecoder({ maxPayload: 1 << 20 });
  decoder.push(bytes);
  const out: Frame[] = [];
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f);
  return out;
}

Deno.test("small frames share a slab; a Uint8Array decoded from one is a copy of its own", () => {
  const secret = new Uint8Array([1, 2, 3, 4]).fill(0xee);
  const mine = new Uint8Array([7, 8, 9]);
  const frames = decodeAll(concat([
    frameOf(11, encodeIdValue(1, secret)),
    frameOf(11, encodeIdValue(2, mine)),
  ]));
  assert.equal(frames.length, 2);
  assert.ok(frames.every((f) => f.shared));
  // Both payloads are views of one buffer...
  assert.equal(frames[0]!.payload.buffer, frames[1]!.payload.buffer);
  const [id, value] = decodeIdValue(frames[1]!.payload, frames[1]!.shared);
  assert.equal(id, 2);
  assert.deepEqual(value, mine);
  // ...but what reaches the caller owns its buffer: no other frame's bytes behind it.
  const bytes = value as Uint8Array;
  assert.equal(bytes.byteOffset, 0);
  assert.equal(bytes.buffer.byteLength, bytes.byteLength);
  const floats = decodeIdValue(
    decodeAll(frameOf(11, encodeIdValue(3, new Float64Array([1.5, -2]))))[0]!.payload,
    true,
  )[1] as Float64Array;
  assert.deepEqual([...floats], [1.5, -2]);
  assert.equal(floats.buffer.byteLength, 16);
});

Deno.test("a small payload stays intact while later frames fill the slab and start new ones", () => {
  const first = decodeAll(frameOf(11, encodeIdValue(1, "first")))[0]!;
  // Well over one slab's worth of other frames.
  for (let i = 0; i < 200; i++) {
    decodeAll(frameOf(11, encodeIdValue(i, "x".repeat(SLAB_PAYLOAD_MAX - 40))));
  }
  assert.deepEqual(decodeIdValue(first.payload, first.shared), [1, "first"]);
});

Deno.test("frames over the slab limit own their buffer and decode typed arrays as views", () => {
  const big = new Uint8Array(SLAB_PAYLOAD_MAX * 4).fill(5);
  const [frame] = decodeAll(frameOf(11, encodeIdValue(1, big)));
  assert.equal(frame!.shared, false);
  assert.equal(frame!.payload.buffer.byteLength, frame!.payload.byteLength);
  const value = decodeIdValue(frame!.payload, frame!.shared)[1] as Uint8Array;
  assert.deepEqual(value, big);
  assert.equal(value.buffer, frame!.payload.buffer); // zero copy
});

Deno.test("call headers from the shared slab never alias one another", () => {
  const a = encodeCallHeader(1, 1000);
  const b = encodeCallHeader(0xfffffffe, 0);
  // id, timeout, attempt (1 unless given).
  assert.deepEqual([...a], [0, 0, 0, 1, 0, 0, 3, 232, 0, 0, 0, 1]);
  assert.deepEqual([...b], [255, 255, 255, 254, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual([...encodeCallHeader(2, 0, 3)].slice(8), [0, 0, 0, 3]);
  assert.equal(a.length, CALL_HEADER_SIZE);
  // Infinity means no limit; a huge timeout is capped.
  assert.deepEqual([...encodeCallHeader(3, Infinity)].slice(4, 8), [0, 0, 0, 0]);
  assert.deepEqual([...encodeCallHeader(3, 2 ** 40)].slice(4, 8), [255, 255, 255, 255]);
});

Deno.test("decodeCall() answers a repeated text from its cache and never confuses texts of one length", () => {
  const call = (source: string, id: number, args: unknown[] = []) =>
    concat([encodeCallHeader(id, 50), ...encodeCallBody({ kind: "fn", source }, args)]);
  const one = decodeCall(call("() => 1", 1));
  const again = decodeCall(call("() => 1", 2, [1, "é"]));
  const other = decodeCall(call("() => 2", 3)); // same length, different bytes
  assert.deepEqual(one, {
    id: 1,
    target: { kind: "fn", source: "() => 1" },
    args: [],
    timeout: 50,
    attempt: 1,
  });
  assert.equal(
    decodeCall(
      concat([encodeCallHeader(6, 0, 4), ...encodeCallBody({ kind: "fn", source: "() => 1" }, [])]),
    ).attempt,
    4,
  );
  assert.deepEqual(again.target, { kind: "fn", source: "() => 1" });
  assert.deepEqual(again.args, [1, "é"]);
  assert.deepEqual(other.target, { kind: "fn", source: "() => 2" });
  // Non-ASCII source and module targets go through the same cache.
  assert.deepEqual(decodeCall(call("() => 'ü'", 4)).target, { kind: "fn", source: "() => 'ü'" });
  const mod = concat([
    encodeCallHeader(5, 0),
    ...encodeCallBody({ kind: "module", specifier: "./jobs.ts", name: "resize" }, [2]),
  ]);
  assert.deepEqual(decodeCall(mod).target, {
    kind: "module",
    specifier: "./jobs.ts",
    name: "resize",
  });
  // More distinct texts than the cache holds: every one still decodes right.
  for (let i = 0; i < 300; i++) {
    const source = `() => ${i}`;
    assert.equal((decodeCall(call(source, i)).target as { source: string }).source, source);
  }
});

Deno.test("decodeValue() reads short JSON by hand and longer or non-ASCII JSON with TextDecoder alike", () => {
  const values = [
    0,
    [1, "a"],
    "é",
    ["x".repeat(250)],
    ["x".repeat(260)],
    { k: "\u{1f600}", n: [1, 2, 3] },
    "\ufeffbom",
  ];
  for (const v of values) {
    const bytes = concat(encodeValue(v));
    assert.deepEqual(decodeValue(bytes), v);
  }
});

Deno.test("empty argument lists take the shared fast path and decode to a fresh array each time", () => {
  const bytes = concat(encodeValue([]));
  assert.deepEqual([...bytes], [0x20, 0x5b, 0x5d]);
  const a = decodeValue(bytes) as unknown[];
  const b = decodeValue(bytes) as unknown[];
  assert.deepEqual(a, []);
  assert.notEqual(a, b);
  (a as unknown[]).push(1); // the caller owns it
  assert.deepEqual(decodeValue(bytes), []);
  // Arrays that are not plain take the general path, and still encode as before.
  const withToJSON = Object.assign([], { toJSON: () => "x" });
  assert.notDeepEqual([...concat(encodeValue(withToJSON))], [0x20, 0x5b, 0x5d]);
  class Sub extends Array {}
  assert.deepEqual(decodeValue(concat(encodeValue(new Sub()))), []);
});

Deno.test("an argument-less call body is shared per target, frozen, and decodes like any other", () => {
  const target = { kind: "fn", source: "() => 42" } as const;
  const a = encodeCallBody(target, []);
  const b = encodeCallBody({ ...target }, []);
  assert.equal(a, b); // same head bytes, same shared body
  assert.ok(Object.isFrozen(a));
  const other = encodeCallBody({ kind: "fn", source: "() => 43" }, []);
  assert.notEqual(other, a);
  const call = decodeCall(concat([encodeCallHeader(9, 0), ...a]));
  assert.deepEqual(call, { id: 9, target, args: [], timeout: 0, attempt: 1 });
  // With arguments, a fresh body each time.
  assert.notEqual(encodeCallBody(target, [1]), encodeCallBody(target, [1]));
});

Deno.test("a result is the call id (u32, big-endian) then the value; short or bad ones are ProtocolErrors", () => {
  for (const id of [0, 1, 0x01020304, 2 ** 32 - 1]) {
    for (const value of [undefined, 0, 300, "text", { a: [1, 2n] }]) {
      const payload = concat(encodeIdValue(id, value));
      assert.equal(new DataView(payload.buffer, payload.byteOffset).getUint32(0), id);
      assert.deepEqual(payload.subarray(RESULT_HEADER_SIZE), concat(encodeValue(value)));
      assert.equal(decodeResultId(payload), id);
      assert.deepEqual(decodeResultValue(payload), value);
      assert.deepEqual(decodeIdValue(payload), [id, value]);
    }
  }
  const head = new Uint8Array(6);
  writeResultHeader(head, 2, 0xa0b0c0d0);
  assert.deepEqual(head, new Uint8Array([0, 0, 0xa0, 0xb0, 0xc0, 0xd0]));
  for (const bad of [[], [0, 0, 0, 1], [0, 0, 0, 1, 0x20, 0x30, 0x30], [0, 0, 0, 1, 0x07]]) {
    assert.throws(() => decodeIdValue(new Uint8Array(bad)), ProtocolError, String(bad));
  }
  assert.throws(
    () => encodeIdValue(1, () => 1),
    (e: unknown) => e instanceof Error && /at "result"/.test(e.message),
  );
});
