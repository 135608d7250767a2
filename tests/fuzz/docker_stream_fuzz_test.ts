/**
 * Fuzz: the Docker client's stream parsers (multiplexed logs, JSON lines) on 100 000 random and 100 000 mutated
 * inputs each, pushed in random pieces. They may only throw
 * `DockerProtocolError`, must never emit more bytes than they were given,
 * and must finish each input quickly.
 *
 * Replay a failure: `FLAME_FUZZ_REPLAY=<target>:<seed> deno test -A tests/fuzz/docker_stream_fuzz_test.ts`.
 */

import assert from "node:assert/strict";
import { JsonLinesDecoder } from "../../src/docker/json_lines.ts";
import { LogDemuxer } from "../../src/docker/log_demux.ts";
import { DockerProtocolError } from "../../src/docker/mod.ts";
import { defineParserFuzzTests, type FuzzTarget, split, tokens } from "./_fuzz.ts";

const FILE = "tests/fuzz/docker_stream_fuzz_test.ts";
const COUNT = 100_000;
const enc = new TextEncoder();
const isDockerProtocolError = (err: unknown) => err instanceof DockerProtocolError;

function logFrame(type: number, text: string): Uint8Array {
  const payload = enc.encode(text);
  const out = new Uint8Array(8 + payload.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(4, payload.length);
  out.set(payload, 8);
  return out;
}

const logTarget: FuzzTarget = {
  name: "log-demux",
  corpus: [
    logFrame(1, "hello\n"),
    new Uint8Array([...logFrame(1, "out\n"), ...logFrame(2, "err\n"), ...logFrame(0, "")]),
    logFrame(3, "engine error"),
    logFrame(2, ""),
  ],
  tokens: [
    Uint8Array.of(1, 0, 0, 0),
    Uint8Array.of(2, 0, 0, 0),
    Uint8Array.of(3, 0, 0, 0),
    Uint8Array.of(0, 0, 0, 4),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff),
    ...tokens("data", "\n"),
  ],
  maxLength: 128,
  run(input, random) {
    const demuxer = new LogDemuxer();
    let data = 0;
    for (const piece of split(input, random)) {
      for (const chunk of demuxer.push(piece)) data += chunk.data.length;
    }
    demuxer.finish();
    assert.ok(data <= input.length, "more output than input");
  },
  allowed: isDockerProtocolError,
};

const jsonLinesTarget: FuzzTarget = {
  name: "json-lines",
  corpus: tokens(
    '{"status":"Pulling from library/x","id":"latest"}\r\n{"status":"Done"}\n',
    '{"errorDetail":{"message":"denied"},"error":"denied"}\n',
    '  \n{"progressDetail":{"current":1,"total":2}}',
    '"é"\n[1,2,{"a":null}]\n',
  ),
  tokens: tokens("{", "}", "[", "]", '"', ":", ",", "\n", "\r\n", " ", "1", "null", "é", "\\u00"),
  maxLength: 192,
  run(input, random) {
    const decoder = new JsonLinesDecoder({ maxLineLength: 128 });
    for (const piece of split(input, random)) decoder.push(piece);
    decoder.finish();
  },
  allowed: isDockerProtocolError,
};

defineParserFuzzTests([logTarget, jsonLinesTarget], {
  count: COUNT,
  base: 0x10c0,
  file: FILE,
  errorName: "DockerProtocolError",
});
