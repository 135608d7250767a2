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
  for (const text of ["g\r\n", "0x5\r\n", " \r\n", "5 5\r\n", "1\r\nab", "12345678901234\r\n"]) {
    assert.throws(() => new ChunkedDecoder().push(bytes(text)), DockerProtocolError, text);
  }
  const small = new ChunkedDecoder({ maxLineSize: 8 });
  assert.throws(() => small.push(bytes("1;aaaaaaaaaaaa")), /Chunk size line exceeds 8 bytes/);
  const trailers = new ChunkedDecoder({ maxTrailerSize: 10 });
  assert.throws(() => trailers.push(bytes("0\r\nX: aaaaaaaaaaaa\r\n")), /trailers exceed 10 bytes/);
});
