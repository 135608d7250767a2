import assert from "node:assert/strict";
import { ChunkedDecoder } from "../../src/docker/chunked.ts";
import { DockerProtocolError } from "../../src/docker/mod.ts";
import { mulberry32 } from "../_helpers/prng.ts";
import { bytes, concat, everySplit, forSeeds, randomSplit } from "../fuzz/docker_splits.ts";

function decode(pieces: Uint8Array[]): { body: Uint8Array; rest: Uint8Array; trailers: object } {
  const decoder = new ChunkedDecoder();
  const data: Uint8Array[] = [];
  const rest: Uint8Array[] = [];
  for (const piece of pieces) {
    if (decoder.done) {
      rest.push(piece);
      continue;
    }
    const result = decoder.push(piece);
    data.push(...result.data);
    assert.ok(result.done || result.consumed === piece.length, "consumes all input until done");
    rest.push(piece.subarray(result.consumed));
  }
  assert.ok(decoder.done, "done");
  return { body: concat(data), rest: concat(rest), trailers: Object.fromEntries(decoder.trailers) };
}

Deno.test("ChunkedDecoder decodes a body split anywhere and leaves what follows", () => {
  const input = bytes("3\r\nabc\r\n1;x=y\r\nd\r\n0\r\nT: v\r\n\r\nNEXT");
  for (const pieces of everySplit(input)) {
    const { body, rest, trailers } = decode(pieces);
    assert.equal(new TextDecoder().decode(body), "abcd");
    assert.equal(new TextDecoder().decode(rest), "NEXT");
    assert.deepEqual(trailers, { t: "v" });
  }
});

Deno.test("ChunkedDecoder passes data through as views, never copies", () => {
  const input = bytes("4\r\nwxyz\r\n0\r\n\r\n");
  const { data } = new ChunkedDecoder().push(input);
  assert.equal(data.length, 1);
  assert.equal(data[0]!.buffer, input.buffer);
});

Deno.test("ChunkedDecoder decodes thousands of random bodies in random splits", () => {
  forSeeds(2000, 0xc4c4, (seed) => {
    const random = mulberry32(seed);
    const body = Uint8Array.from({ length: Math.floor(random() * 2000) }, () => random() * 256);
    const parts: Uint8Array[] = [];
    for (let offset = 0; offset < body.length;) {
      const size = 1 + Math.floor(random() * 300);
      const piece = body.subarray(offset, offset + size);
      const hex = piece.length.toString(16);
      parts.push(bytes(`${random() < 0.5 ? hex : hex.toUpperCase()}\r\n`), piece, bytes("\r\n"));
      offset += size;
    }
    parts.push(bytes("0\r\n\r\n"));
    const decoded = decode(randomSplit(concat(parts), seed, 1 + (seed % 50)));
    assert.deepEqual(decoded.body, body);
    assert.equal(decoded.rest.length, 0);
  });
});

Deno.test("ChunkedDecoder rejects invalid sizes and missing CRLF", () => {
  for (
    const text of [
      "g\r\n",
      "0x5\r\n",
      " \r\n",
      "5 5\r\n",
      "1\r\nab",
      "12345678901234\r\n",
      "1\nx\r\n0\r\n\r\n",
      "1\r\nx\n0\r\n\r\n",
      "1\r\nx\r\r",
    ]
  ) {
    assert.throws(() => new ChunkedDecoder().push(bytes(text)), DockerProtocolError, text);
  }
  const small = new ChunkedDecoder({ maxLineSize: 8 });
  assert.throws(() => small.push(bytes("1;aaaaaaaaaaaa")), /Chunk size line exceeds 8 bytes/);
  const trailers = new ChunkedDecoder({ maxTrailerSize: 10 });
  assert.throws(() => trailers.push(bytes("0\r\nX: aaaaaaaaaaaa\r\n")), /trailers exceed 10 bytes/);
});

/**
 * Pushes `text` in every split: each must throw exactly `message`, having
 * handed out no more than `before` (and all of it when cut a byte at a time).
 */
function assertRejectedEverySplit(text: string, message: string, before = ""): void {
  const input = bytes(text);
  const deliveries = [...everySplit(input), [...input].map((b) => Uint8Array.of(b))];
  for (const pieces of deliveries) {
    const decoder = new ChunkedDecoder();
    const data: Uint8Array[] = [];
    const split = pieces.map((p) => p.length).join("+");
    assert.throws(
      () => {
        for (const piece of pieces) data.push(...decoder.push(piece).data);
      },
      (e) => e instanceof DockerProtocolError && e.message === message,
      `${JSON.stringify(text)} with pieces ${split}`,
    );
    const out = new TextDecoder().decode(concat(data));
    assert.ok(before.startsWith(out), `handed out ${JSON.stringify(out)} with pieces ${split}`);
    if (pieces.length === input.length) assert.equal(out, before, "a byte at a time");
  }
}

Deno.test("ChunkedDecoder accepts chunk extensions as RFC 9112 spells them, split anywhere", () => {
  const lines = [
    "2;a",
    "2;a=b",
    "2 ;a",
    "2\t; a\t=\tb",
    "2;a=b;c;d=e",
    "2 ; a ; b = c",
    '2;a=""',
    '2;a="x;y=z \\" \\\\ \t"',
    '2;a="\xe9\\\xff"',
    "0000002",
    "2;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
  ];
  for (const line of lines) {
    // Latin-1 bytes, so a quoted string can carry obs-text.
    const input = Uint8Array.from(`${line}\r\nok\r\n0;last=1\r\n\r\n`, (c) => c.charCodeAt(0));
    for (const pieces of everySplit(input)) {
      assert.equal(new TextDecoder().decode(decode(pieces).body), "ok", line);
    }
  }
});

Deno.test("ChunkedDecoder rejects a malformed chunk-size line before handing out its chunk, split anywhere", () => {
  const lines = [
    "25  ", // BWS is allowed only before ";" and around "=", never at the end
    "2 ",
    "2\t",
    "2;", // an extension needs a name
    "2 ;",
    "2;;a",
    "2;=v",
    "2;a=",
    "2;a= ",
    "2;a=b ",
    "2;a b",
    '2;a="x', // unbalanced quote
    '2;a="x"y',
    '2;a="x\\',
    '2;a=x"y"',
    "2;a=b=c",
    "2;a@b",
    "2;a=b@",
    "2;a,b",
    "2;a/b",
    ";a",
    "2 2",
    "0x2",
    "+2",
  ];
  for (const line of lines) {
    const message = `Invalid chunk size line ${JSON.stringify(line)}`;
    // The bad line starts the body, or follows a good chunk, which was handed out.
    assertRejectedEverySplit(`${line}\r\nok\r\n0\r\n\r\n`, message);
    assertRejectedEverySplit(`3;a="b"\r\nabc\r\n${line}\r\nok\r\n0\r\n\r\n`, message, "abc");
  }
  assertRejectedEverySplit(
    "2;a\rb\r\nok\r\n0\r\n\r\n",
    'Invalid chunk size line "2;a\\rb": a bare CR (one not followed by LF)',
  );
  assertRejectedEverySplit(
    '2;a="\x00"\r\nok\r\n0\r\n\r\n',
    'Invalid chunk size line "2;a=\\"\\u0000\\"": control character 0x00',
  );
  assertRejectedEverySplit("2;a\nok\r\n0\r\n\r\n", 'Chunk size line "2;a" does not end with CRLF');
  assertRejectedEverySplit(
    "0\r\nX: 1\rY: 2\r\n\r\n",
    'Invalid trailer line "X: 1\\rY: 2": a bare CR (one not followed by LF)',
  );
  assertRejectedEverySplit("0\r\n folded\r\n\r\n", 'Folded trailer line " folded" is not allowed');
});

Deno.test("ChunkedDecoder checks hostile chunk-size lines in linear time", () => {
  const hostile = [
    "0".repeat(4000) + "g",
    "1" + ";a=b".repeat(1000) + " ",
    "1;" + "a".repeat(4000) + " x",
    "1;a=" + "b".repeat(4000) + " ",
    '1;a="' + '\\"'.repeat(1300),
    "1" + " ".repeat(4000) + "x",
    "1;" + " ".repeat(4000),
    "1;a" + " ".repeat(4000) + "=",
  ];
  for (const line of hostile) {
    const started = performance.now();
    assert.throws(() => new ChunkedDecoder().push(bytes(`${line}\r\n`)), DockerProtocolError);
    const ms = performance.now() - started;
    assert.ok(ms < 50, `${JSON.stringify(line.slice(0, 20))}... took ${ms.toFixed(1)} ms`);
  }
});
