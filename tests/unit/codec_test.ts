import assert from "node:assert/strict";
import {
  DataCloneError,
  decodeValue,
  decodeValueAt,
  encodeValue,
  partsLength,
} from "../../src/protocol/codec.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";
import { mulberry32 } from "../_helpers/prng.ts";

function concat(parts: readonly Uint8Array[], offset = 0): Uint8Array {
  const out = new Uint8Array(offset + partsLength(parts)).subarray(offset);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function roundTrip<T>(value: T): T {
  return decodeValue(concat(encodeValue(value))) as T;
}

function format(value: unknown): number {
  return encodeValue(value)[0]![0]!;
}

function assertCloneError(value: unknown, message: string | RegExp): void {
  assert.throws(() => encodeValue(value), (err: unknown) => {
    assert.ok(err instanceof DataCloneError, `expected DataCloneError, got ${err}`);
    assert.equal(err.name, "DataCloneError");
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

Deno.test("encodeValue() round-trips primitives, including undefined, NaN, -0 and infinities", () => {
  const values = [
    undefined,
    null,
    true,
    false,
    0,
    -0,
    1,
    -1,
    NaN,
    Infinity,
    -Infinity,
    0.1,
    -2.5e-300,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    2 ** 31,
    -(2 ** 31),
    2 ** 31 - 1,
    2 ** 32,
    1e21,
  ];
  for (const v of values) {
    assert.ok(Object.is(roundTrip(v), v), `top level ${String(v)}`);
    // Inside a container, and inside one that forces the tagged format.
    assert.ok(Object.is(roundTrip([v])[0], v), `in array ${String(v)}`);
    assert.ok(Object.is(roundTrip([v, undefined])[0], v), `tagged ${String(v)}`);
  }
  assert.deepEqual(roundTrip(values), values);
});

Deno.test("encodeValue() round-trips strings, including non-ASCII, long and lone surrogates", () => {
  const strings = [
    "",
    "a",
    "hello world",
    "héllo",
    "日本語のテキスト",
    "emoji 🦕🔥",
    '\u0000\u0001\u001f"\\',
    "x".repeat(42),
    "é".repeat(42),
    "x".repeat(43),
    "é".repeat(10_000),
    "a".repeat(100_000),
    "\uD800",
    "\uDC00",
    "a\uD800b",
    "\uDFFF\uD800",
    "lone " + "\uD83D".repeat(50),
    "\uFEFFbom",
  ];
  for (const s of strings) {
    assert.equal(roundTrip(s), s);
    assert.equal(roundTrip({ s, u: undefined }).s, s, "tagged format");
    assert.deepEqual(roundTrip(new Map([[s, s]])), new Map([[s, s]]));
  }
});

Deno.test("encodeValue() round-trips BigInt, including negative and huge", () => {
  const values = [
    0n,
    1n,
    -1n,
    127n,
    128n,
    255n,
    256n,
    -256n,
    2n ** 63n,
    -(2n ** 64n) + 1n,
    2n ** 200n + 12345n,
    -(3n ** 5000n),
  ];
  for (const v of values) {
    assert.equal(roundTrip(v), v);
    assert.equal(roundTrip({ v }).v, v);
  }
});

Deno.test("encodeValue() round-trips Date, including an invalid date", () => {
  const dates = [new Date(0), new Date(1_700_000_000_123), new Date(-1e12), new Date(NaN)];
  for (const d of dates) {
    const copy = roundTrip(d);
    assert.ok(copy instanceof Date);
    assert.ok(Object.is(copy.getTime(), d.getTime()));
  }
});

Deno.test("encodeValue() round-trips RegExp source and flags", () => {
  for (
    const re of [/a+b/, /^[\u0100-\uffff]$/giu, /x/dgimsy, /[\p{L}--[a-z]]/v, new RegExp("/", "")]
  ) {
    const copy = roundTrip(re);
    assert.ok(copy instanceof RegExp);
    assert.equal(copy.source, re.source);
    assert.equal(copy.flags, re.flags);
  }
});

const TYPED_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;

function fillTyped(ta: ArrayBufferView, seed: number): void {
  const rand = mulberry32(seed);
  const bytes = new Uint8Array(ta.buffer, ta.byteOffset, ta.byteLength);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (rand() * 256) | 0;
}

Deno.test("encodeValue() round-trips every typed array kind, small and large, with byteOffset", () => {
  for (const Ctor of TYPED_ARRAYS) {
    for (const length of [0, 1, 7, 100, 5000]) {
      const size = Ctor.BYTES_PER_ELEMENT;
      // A view in the middle of a bigger buffer: only the view's content may travel.
      const whole = new Ctor(length + 6);
      fillTyped(whole, length);
      const view = whole.subarray(3, 3 + length);
      const parts = encodeValue(view);
      assert.ok(
        partsLength(parts) < 64 + length * size + 8,
        "sends the view, not the whole buffer",
      );
      const copy = decodeValue(concat(parts)) as typeof view;
      assert.equal(copy.constructor, Ctor);
      assert.equal(copy.length, length);
      assert.deepEqual(
        new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength),
        new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
        `${Ctor.name}(${length})`,
      );
      // Misaligned input (byteOffset 1): the decoder copies instead of failing.
      const shifted = decodeValue(concat(parts, 1)) as typeof view;
      assert.deepEqual(
        new Uint8Array(shifted.buffer, shifted.byteOffset, shifted.byteLength),
        new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
      );
    }
  }
});

Deno.test("encodeValue() round-trips Float16Array when the runtime has it", () => {
  const F16 = (globalThis as Record<string, unknown>).Float16Array as
    | (new (values: number[]) => ArrayLike<number>)
    | undefined;
  if (F16 === undefined) return;
  const a = new F16([0.5, -2, 65504]);
  const copy = roundTrip(a);
  assert.equal(copy.constructor, F16);
  assert.deepEqual(Array.from(copy), [0.5, -2, 65504]);
});

Deno.test("encodeValue() round-trips ArrayBuffer and DataView", () => {
  for (const n of [0, 10, 10_000]) {
    const ab = new ArrayBuffer(n);
    fillTyped(new Uint8Array(ab), n);
    const copy = roundTrip(ab);
    assert.ok(copy instanceof ArrayBuffer);
    assert.equal(copy.byteLength, n);
    assert.deepEqual(new Uint8Array(copy), new Uint8Array(ab));

    const dv = new DataView(ab, n > 2 ? 1 : 0, n > 2 ? n - 2 : 0);
    const dvCopy = roundTrip(dv);
    assert.ok(dvCopy instanceof DataView);
    assert.equal(dvCopy.byteLength, dv.byteLength);
    assert.deepEqual(
      new Uint8Array(dvCopy.buffer, dvCopy.byteOffset, dvCopy.byteLength),
      new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength),
    );
  }
});

Deno.test("encodeValue() round-trips Map and Set", () => {
  const key = { k: 1 };
  const m = new Map<unknown, unknown>([
    ["a", 1],
    [2, "b"],
    [key, new Set([1, "x", key])],
    [NaN, -0],
    [undefined, null],
  ]);
  const copy = roundTrip(m);
  assert.ok(copy instanceof Map);
  assert.deepEqual(copy, m);
  const [copyKey, copySet] = [...copy.entries()][2]! as [object, Set<unknown>];
  assert.ok(copySet.has(copyKey), "the object key and the set member are one object");
  assert.ok(Object.is(copy.get(NaN), -0));
  assert.deepEqual(roundTrip(new Set()), new Set());
  assert.deepEqual(roundTrip(new Map()), new Map());
});

Deno.test("encodeValue() round-trips plain objects, including __proto__ and null-prototype", () => {
  const tricky = JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}');
  for (const extra of [{}, { u: undefined }]) {
    const copy = roundTrip({ ...extra, tricky });
    assert.equal(Object.getPrototypeOf(copy.tricky), Object.prototype);
    assert.ok(Object.hasOwn(copy.tricky, "__proto__"));
    assert.deepEqual(Object.getOwnPropertyDescriptor(copy.tricky, "__proto__")?.value, {
      polluted: true,
    });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  }
  const bare = Object.create(null) as Record<string, unknown>;
  bare.x = 1;
  assert.deepEqual({ ...roundTrip(bare) }, { x: 1 });
  const ordered = { b: 1, a: 2, 10: 3, 2: 4, "": 5, "-1": 6 };
  assert.deepEqual(Object.keys(roundTrip(ordered)), Object.keys(ordered));
  assert.deepEqual(Object.keys(roundTrip({ ...ordered, u: undefined })), [
    ...Object.keys(ordered),
    "u",
  ]);
});

Deno.test("encodeValue() handles objects whose keys look like format tags", () => {
  // The format never uses object keys as markers; these are just data.
  const collide = {
    "\u0001": 1,
    "\u0002": 2,
    $ref: 0,
    $tag: "Map",
    __type: "Uint8Array",
    "#0": [1],
    toJSON: "not a function",
  };
  assert.deepEqual(roundTrip(collide), collide);
  assert.deepEqual(roundTrip([collide, undefined]), [collide, undefined]);
  const withMethod = { toJSON: () => "x" };
  assertCloneError(withMethod, 'Cannot clone value at "toJSON": functions cannot cross the wire');
});

Deno.test("encodeValue() round-trips arrays, preserving holes", () => {
  assert.deepEqual(roundTrip([]), []);
  assert.deepEqual(roundTrip([1, "a", null, [2, [3]]]), [1, "a", null, [2, [3]]]);
  // deno-lint-ignore no-sparse-arrays
  const sparse = [1, , 3, ,];
  const copy = roundTrip(sparse);
  assert.equal(copy.length, 4);
  assert.ok(!(1 in copy) && !(3 in copy), "holes stay holes");
  assert.ok(0 in copy && 2 in copy);
  const big = new Array(1000);
  big[999] = "end";
  const bigCopy = roundTrip(big);
  assert.equal(bigCopy.length, 1000);
  assert.equal(bigCopy[999], "end");
  assert.equal(Object.keys(bigCopy).length, 1);
  assert.deepEqual(roundTrip([undefined]), [undefined]);
  assert.ok(0 in roundTrip([undefined]), "undefined is not a hole");
});

Deno.test("encodeValue() round-trips nested combinations", () => {
  const value = {
    id: 42,
    user: { name: "Ada", tags: ["x", "y"], born: new Date(Date.UTC(1815, 11, 10)) },
    payload: new Uint8Array([1, 2, 3]),
    chunks: [new Float64Array([1.5, NaN]), new Map([["k", new Set([1n, -0])]])],
    nested: [[[[{ deep: [undefined, null, /re/g] }]]]],
    big: new Uint16Array(3000).fill(7),
  };
  assert.deepEqual(roundTrip(value), value);
});

Deno.test("encodeValue() preserves shared references and cycles", () => {
  const shared = { s: 1 };
  const pair = roundTrip([shared, shared]);
  assert.equal(pair[0], pair[1]);
  assert.deepEqual(pair[0], { s: 1 });

  type Node = { name: string; self?: Node; list: unknown[] };
  const node: Node = { name: "n", list: [] };
  node.self = node;
  node.list.push(node, node.list);
  const copy = roundTrip(node);
  assert.equal(copy.self, copy);
  assert.equal(copy.list[0], copy);
  assert.equal(copy.list[1], copy.list);

  const m = new Map<string, unknown>();
  m.set("me", m);
  const mc = roundTrip(m);
  assert.equal(mc.get("me"), mc);

  const s = new Set<unknown>();
  s.add(s);
  const sc = roundTrip(s);
  assert.ok(sc.has(sc));

  const bytes = new Uint8Array(10);
  const date = new Date(5);
  const refs = roundTrip({ a: bytes, b: bytes, c: date, d: date });
  assert.equal(refs.a, refs.b);
  assert.equal(refs.c, refs.d);

  const err = new Error("loop");
  err.cause = err;
  const ec = roundTrip(err);
  assert.equal(ec.cause, ec);
});

Deno.test("encodeValue() round-trips Error name, message, stack and cause", () => {
  const inner = new TypeError("inner");
  const outer = new RangeError("outer", { cause: inner });
  const copy = roundTrip(outer);
  assert.ok(copy instanceof RangeError);
  assert.equal(copy.name, "RangeError");
  assert.equal(copy.message, "outer");
  assert.equal(copy.stack, outer.stack);
  assert.ok(copy.cause instanceof TypeError);
  assert.equal((copy.cause as Error).message, "inner");
  assert.equal((copy.cause as Error).stack, inner.stack);
  assert.ok(!Object.keys(copy).includes("cause"), "cause is not enumerable, as on a native error");

  class NotFound extends Error {
    override name = "NotFound";
  }
  const custom = roundTrip(new NotFound("missing"));
  assert.ok(custom instanceof Error);
  assert.equal(custom.name, "NotFound");
  assert.equal(custom.message, "missing");

  const withValueCause = roundTrip(new Error("x", { cause: { code: 7 } }));
  assert.deepEqual(withValueCause.cause, { code: 7 });
  assert.ok(!("cause" in roundTrip(new Error("no cause"))));

  const noStack = new Error("s");
  delete noStack.stack;
  assert.equal(roundTrip(noStack).stack, undefined);

  for (const Ctor of [EvalError, ReferenceError, SyntaxError, URIError]) {
    assert.ok(roundTrip(new Ctor("m")) instanceof Ctor);
  }
  assertCloneError(
    new Error("x", { cause: () => 1 }),
    'Cannot clone value at "cause": functions cannot cross the wire',
  );
});

Deno.test("encodeValue() round-trips boxed primitives", () => {
  for (const v of [Object(1), Object(-0), Object("s"), Object(true), Object(10n)]) {
    const copy = roundTrip(v);
    assert.equal(typeof copy, "object");
    assert.equal(copy.constructor, v.constructor);
    assert.ok(Object.is(copy.valueOf(), v.valueOf()));
  }
  assertCloneError(Object(Symbol("s")), /Symbol objects cannot cross the wire/);
});

Deno.test("encodeValue() round-trips large JSON-safe data, ASCII and not", () => {
  const rows = Array.from({ length: 2000 }, (_, i) => ({ i, name: `row ${i}`, ok: i % 2 === 0 }));
  assert.deepEqual(roundTrip(rows), rows);
  const mixedText = { text: "a".repeat(5000) + "é🦕".repeat(3000) + "z" };
  assert.equal(format(mixedText), 0x20);
  assert.deepEqual(roundTrip(mixedText), mixedText);
  assert.deepEqual(roundTrip(["é".repeat(3000)]), ["é".repeat(3000)]);
});

Deno.test("encodeValue() uses JSON for plain data and the tagged format otherwise", () => {
  assert.equal(format({ a: 1, b: ["x", true, null, 1.5], c: { d: "é" } }), 0x20);
  assert.equal(format("str"), 0x20);
  for (
    const v of [
      undefined,
      -0,
      NaN,
      Infinity,
      1n,
      { a: undefined },
      [1, , 2],
      new Date(),
      new Map(),
      new Uint8Array(1),
    ]
  ) {
    assert.equal(format(v), 0x02, String(v));
  }
  const shared = {};
  assert.equal(format([shared, shared]), 0x02, "shared references need the tagged format");
});

Deno.test("encodeValue() refuses unclonable values naming the path", async () => {
  assertCloneError(() => 1, "Cannot clone value: functions cannot cross the wire");
  assertCloneError(Symbol("s"), "Cannot clone value: symbols cannot cross the wire");
  assertCloneError(
    [1, 0, "src", 0, [1, { handler: () => {} }]],
    'Cannot clone value at "[4][1].handler": functions cannot cross the wire',
  );
  assertCloneError(
    { args: [1, { handler: function named() {} }] },
    'Cannot clone value at "args[1].handler": functions cannot cross the wire',
  );
  assertCloneError(
    { "a key": { s: Symbol.iterator } },
    'Cannot clone value at "["a key"].s": symbols cannot cross the wire',
  );
  assertCloneError(
    new (class Foo {})(),
    'Cannot clone value: instances of class "Foo" cannot cross the wire (only plain objects, arrays and built-in value types can)',
  );
  assertCloneError(
    { w: new WeakMap() },
    'Cannot clone value at "w": WeakMap objects cannot cross the wire',
  );
  assertCloneError([new WeakSet()], /at "\[0\]": WeakSet objects/);
  assertCloneError({ p: Promise.resolve() }, /at "p": Promise objects cannot cross the wire/);
  assertCloneError(
    new Map([["k", () => {}]]),
    'Cannot clone value at ".get("k")": functions cannot cross the wire',
  );
  assertCloneError(new Map([[() => {}, 1]]), /at "<Map key #0>": functions/);
  assertCloneError(new Set([1, () => {}]), /at "<Set item #1>": functions/);
  assertCloneError({ sab: new SharedArrayBuffer(8) }, /at "sab": SharedArrayBuffer objects/);
  const detached = new ArrayBuffer(8);
  const onDetached = new Uint8Array(detached);
  structuredClone(detached, { transfer: [detached] });
  assertCloneError([detached], /at "\[0\]": a detached ArrayBuffer/);
  assertCloneError({ onDetached }, /at "onDetached": a view of a detached ArrayBuffer/);

  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using _server = await accepted;
  assertCloneError(
    { conn },
    /^Cannot clone value at "conn": instances of class "\w+" cannot cross the wire/,
  );
  assertCloneError([listener], /^Cannot clone value at "\[0\]": instances of class/);
});

Deno.test("encodeValue() limits nesting depth symmetrically", () => {
  const nest = (depth: number, leaf: unknown): unknown => {
    let v: unknown = leaf;
    for (let i = 0; i < depth; i++) v = [v];
    return v;
  };
  for (const leaf of [1, undefined]) {
    const ok = nest(1000, leaf);
    assert.deepEqual(roundTrip(ok), ok);
    assertCloneError(nest(1001, leaf), /nesting deeper than 1000 levels/);
  }
});

Deno.test("encodeValue() copes with getters that call encodeValue", () => {
  const inner = { v: new Map([[1, 2]]) };
  const outer = {
    get g() {
      return decodeValue(concat(encodeValue(inner)));
    },
    u: undefined,
  };
  assert.deepEqual(roundTrip(outer), { g: inner, u: undefined });
  assert.deepEqual(roundTrip({ x: 1 }), { x: 1 }, "the codec still works afterwards");
});

Deno.test("encodeValue() sends a 64 MiB Uint8Array without copying it", () => {
  const size = 64 * 1024 * 1024;
  const big = new Uint8Array(size);
  for (let i = 0; i < size; i += 4093) big[i] = i & 0xff;
  big[size - 1] = 0xab;
  const parts = encodeValue([7, big]);
  assert.ok(parts.some((p) => p.buffer === big.buffer && p.byteLength === size), "no copy");
  assert.ok(partsLength(parts) < size + 64);
  const bytes = concat(parts);
  const [id, copy] = decodeValue(bytes) as [number, Uint8Array];
  assert.equal(id, 7);
  assert.equal(copy.length, size);
  assert.equal(copy.buffer, bytes.buffer, "decoded as a view, no copy");
  for (let i = 0; i < size; i += 4093) assert.equal(copy[i], i & 0xff);
  assert.equal(copy[size - 1], 0xab);

  // A subarray sends only its own bytes.
  const sub = big.subarray(4093, 4093 + 10_000);
  const subParts = encodeValue(sub);
  assert.ok(partsLength(subParts) < 10_100);
  assert.deepEqual(decodeValue(concat(subParts)), sub);
});

Deno.test("partsLength() sums the part lengths", () => {
  assert.equal(partsLength([]), 0);
  assert.equal(partsLength([new Uint8Array(3), new Uint8Array(0), new Uint8Array(5)]), 8);
});

Deno.test("DataCloneError is a named Error", () => {
  const err = new DataCloneError("nope", { cause: 1 });
  assert.ok(err instanceof Error);
  assert.equal(err.name, "DataCloneError");
  assert.equal(err.cause, 1);
});

function assertProtocolError(bytes: Uint8Array, context: string): void {
  try {
    decodeValue(bytes);
  } catch (err) {
    if (!(err instanceof ProtocolError)) {
      throw new Error(`${context}: threw ${err} instead of ProtocolError`, { cause: err });
    }
  }
}

const SAMPLES: unknown[] = [
  { a: 1, b: "two", c: [true, null] },
  [1, undefined, -0, NaN, 2n ** 90n, "é\uD800"],
  {
    m: new Map<unknown, unknown>([["k", new Set([1, 2])], [{ o: 1 }, new Date(3)]]),
    r: /x+/gi,
    e: new TypeError("t", { cause: new Error("c") }),
    b: [Object(1), Object("s")],
  },
  [
    new Uint8Array([1, 2, 3]),
    new Float64Array([1.5]),
    new DataView(new ArrayBuffer(4)),
    new ArrayBuffer(2),
  ],
  [new Int32Array(2000).fill(-1), new Uint8Array(5000).fill(9)],
  (() => {
    const o: Record<string, unknown> = { x: 1 };
    o.self = o;
    // deno-lint-ignore no-sparse-arrays
    o.holes = [1, , 3];
    return o;
  })(),
];

Deno.test("decodeValue() throws ProtocolError on empty, unknown-format and truncated input", () => {
  assert.throws(() => decodeValue(new Uint8Array(0)), ProtocolError);
  assert.throws(() => decodeValue(new Uint8Array([0x00, 1, 2])), ProtocolError);
  assert.throws(() => decodeValue(new Uint8Array([0xff])), ProtocolError);
  assert.throws(() => decodeValue(new Uint8Array([0x20])), ProtocolError);
  assert.throws(() => decodeValue(new Uint8Array([0x20, 0xc3])), ProtocolError, "invalid UTF-8");
  for (const sample of SAMPLES) {
    const bytes = concat(encodeValue(sample));
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(() => decodeValue(bytes.subarray(0, n)), ProtocolError, `prefix ${n}`);
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    assert.throws(() => decodeValue(longer), ProtocolError, "trailing byte");
  }
});

Deno.test("common small values use shared encodings that read back as the general path's", () => {
  const ascii = (text: string) => new Uint8Array([0x20, ...new TextEncoder().encode(text)]);
  const cases: [unknown, Uint8Array][] = [
    [undefined, new Uint8Array([0x02, 1, 0, 0, 0, 0])],
    [null, ascii("null")],
    [true, ascii("true")],
    [false, ascii("false")],
    [0, ascii("0")],
    [9, ascii("9")],
    [255, ascii("255")],
  ];
  for (const [value, bytes] of cases) {
    const parts = encodeValue(value);
    assert.equal(parts.length, 1);
    assert.deepEqual(parts[0], bytes, String(value));
    // Shared: the same bytes object every time (parts are only ever read).
    assert.equal(encodeValue(value)[0], parts[0]);
    assert.ok(Object.is(decodeValue(bytes), value));
  }
  // Just outside the table: the general path, same results.
  for (const value of [256, -1, 1.5, -0, 2 ** 31, NaN, Infinity, "0", 1e21]) {
    assert.ok(Object.is(roundTrip(value), value), String(value));
  }
  // The integer reader accepts exactly what JSON.parse accepts.
  for (const text of ["7", "10", "999999999", "1000000000", "123456789012", "-3", "1e3", "2.0"]) {
    assert.ok(Object.is(decodeValue(ascii(text)), JSON.parse(text)), text);
  }
  for (const text of ["00", "01", "1-", "1 2", "9a", "tru", "nul", "falsy"]) {
    assert.throws(() => decodeValue(ascii(text)), ProtocolError, text);
  }
});

Deno.test("decodeValueAt() reads a range as decodeValue() reads the same bytes alone", () => {
  for (const sample of [...SAMPLES, undefined, 3, [], "x", new Uint8Array([1, 2, 3])]) {
    const bytes = concat(encodeValue(sample));
    const framed = new Uint8Array(bytes.length + 7).fill(0x5b);
    framed.set(bytes, 3);
    const a = decodeValueAt(framed, 3, 3 + bytes.length);
    const b = decodeValue(bytes);
    assert.deepEqual(a, b);
  }
  // A range that holds only part of an encoding is malformed, whatever follows it.
  const framed = new Uint8Array([0x20, 0x31, 0x32, 0x33]);
  assert.equal(decodeValueAt(framed, 0, 2), 1);
  assert.throws(() => decodeValueAt(framed, 0, 0), ProtocolError);
  assert.throws(() => decodeValueAt(framed, 0, 1), ProtocolError);
});

Deno.test("decodeValue() rejects hostile counts and nesting fast", () => {
  const tagged = (...body: number[]) => {
    const out = new Uint8Array(5 + body.length);
    out[0] = 0x02;
    new DataView(out.buffer).setUint32(1, body.length, true);
    out.set(body, 5);
    return out;
  };
  const start = performance.now();
  // An array, an object, a Map claiming 2^32 - 1 entries; a string claiming 4 GiB.
  for (const tag of [0x09, 0x0b, 0x0c, 0x0d, 0x06, 0x07, 0x08]) {
    const body = tag === 0x08
      ? [tag, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]
      : [tag, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert.throws(() => decodeValue(tagged(...body)), ProtocolError);
  }
  assert.throws(() => decodeValue(tagged(0x14, 0)), ProtocolError, "reference to nothing");
  assert.throws(
    () => decodeValue(tagged(0x12, 3, 0, 3, 1, 2, 3)),
    ProtocolError,
    "odd Int16 length",
  );
  assert.throws(() => decodeValue(tagged(0x12, 99, 0, 0)), ProtocolError, "unknown view kind");
  assert.throws(() => decodeValue(tagged(0x12, 1, 1, 8)), ProtocolError, "missing sidecar");
  assert.throws(
    () => decodeValue(tagged(0x0f, 0x06, 1, 0x28, 0x06, 0)),
    ProtocolError,
    "bad RegExp",
  );
  assert.throws(() => decodeValue(tagged(0x13, 0x09, 0)), ProtocolError, "boxed array");
  assert.throws(() => decodeValue(tagged(0x04, 0xff, 0xff, 0xff, 0xff, 0xff)), ProtocolError);
  const deep = tagged(...new Array(5000).fill(0x09).flatMap((t) => [t, 1]), 0x01);
  assert.throws(() => decodeValue(deep), /nesting deeper than 1000/);
  assert.ok(performance.now() - start < 1000);
});

Deno.test("decodeValue() only ever throws ProtocolError on random and mutated input", () => {
  const seed = Number(Deno.env.get("CODEC_FUZZ_SEED") ?? 0x5eed);
  const rand = mulberry32(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const encodings = SAMPLES.map((s) => concat(encodeValue(s)));
  let decoded = 0;
  const start = performance.now();
  try {
    for (let round = 0; round < 20_000; round++) {
      let bytes: Uint8Array;
      if (round % 4 === 0) {
        // Pure garbage behind a valid format byte.
        bytes = new Uint8Array(1 + int(64));
        for (let i = 1; i < bytes.length; i++) bytes[i] = int(256);
        bytes[0] = 1 + int(2);
      } else {
        // A valid encoding with a few bytes changed, maybe cut short.
        const source = encodings[int(encodings.length)]!;
        bytes = source.slice(0, rand() < 0.2 ? int(source.length + 1) : source.length);
        const flips = 1 + int(4);
        for (let f = 0; f < flips && bytes.length > 0; f++) {
          const at = int(bytes.length);
          bytes[at] = rand() < 0.5 ? int(256) : bytes[at]! ^ (1 << int(8));
        }
      }
      try {
        decodeValue(bytes);
        decoded++;
      } catch (err) {
        if (!(err instanceof ProtocolError)) {
          throw new Error(
            `Round ${round} with seed ${seed} threw ${err} for [${bytes.join(",")}]`,
            { cause: err },
          );
        }
      }
    }
  } catch (err) {
    console.error(`codec fuzz failed; replay with CODEC_FUZZ_SEED=${seed}`);
    throw err;
  }
  assert.ok(decoded > 0, "some mutations still decode");
  assert.ok(performance.now() - start < 10_000, "never hangs");
  for (const sample of SAMPLES) assertProtocolError(concat(encodeValue(sample)), "unmutated");
});
