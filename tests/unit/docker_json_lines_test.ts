import assert from "node:assert/strict";
import { JsonLinesDecoder } from "../../src/docker/json_lines.ts";
import { DockerProtocolError } from "../../src/docker/mod.ts";
import { bytes, everySplit, forSeeds, randomSplit } from "../fuzz/docker_splits.ts";

function decodeAll(pieces: Uint8Array[]): unknown[] {
  const decoder = new JsonLinesDecoder();
  const values = pieces.flatMap((piece) => decoder.push(piece));
  return [...values, ...decoder.finish()];
}

const PULL = '{"status":"Pulling from library/x","id":"1"}\r\n' +
  '{"status":"Downloading","progressDetail":{"current":5,"total":9},"id":"é"}\r\n\r\n' +
  '{"status":"Digest: sha256:00"}';

Deno.test("JsonLinesDecoder decodes pull progress split anywhere, multibyte characters included", () => {
  const expected = [
    { status: "Pulling from library/x", id: "1" },
    { status: "Downloading", progressDetail: { current: 5, total: 9 }, id: "é" },
    { status: "Digest: sha256:00" },
  ];
  for (const pieces of everySplit(bytes(PULL))) assert.deepEqual(decodeAll(pieces), expected);
});

Deno.test("JsonLinesDecoder yields each line as soon as it is complete", () => {
  const decoder = new JsonLinesDecoder();
  assert.deepEqual(decoder.push(bytes('{"a":1}\n{"b"')), [{ a: 1 }]);
  assert.deepEqual(decoder.push(bytes(":2}")), []);
  assert.deepEqual(decoder.push(bytes("\n")), [{ b: 2 }]);
  assert.deepEqual(decoder.finish(), []);
});

Deno.test("JsonLinesDecoder decodes thousands of random streams in random splits", () => {
  forSeeds(1000, 0x15, (seed) => {
    const values = Array.from({ length: 1 + (seed % 20) }, (_, i) => ({ i, s: "ü".repeat(i) }));
    const text = values.map((v) => JSON.stringify(v)).join(seed % 2 ? "\n" : "\r\n");
    assert.deepEqual(decodeAll(randomSplit(bytes(text), seed, 32)), values);
  });
});

Deno.test("JsonLinesDecoder rejects a line that is not JSON or too long", () => {
  assert.throws(
    () => new JsonLinesDecoder().push(bytes("{oops}\n")),
    (e) => e instanceof DockerProtocolError && e.message === 'Invalid JSON line "{oops}"',
  );
  const decoder = new JsonLinesDecoder();
  decoder.push(bytes('{"a":'));
  assert.throws(() => decoder.finish(), DockerProtocolError);
  const short = new JsonLinesDecoder({ maxLineLength: 10 });
  assert.throws(() => short.push(bytes('{"a":"0123456789"')), /exceeds 10 characters/);
});
