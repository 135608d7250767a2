/**
 * Fuzz: the Docker client's HTTP response parser and chunked decoder on 100 000 random and 100 000 mutated
 * inputs each, pushed in random pieces. They may only throw
 * `DockerProtocolError`, must never emit more bytes than they were given,
 * must reach the same verdict (and on success the same result) as when the
 * input is pushed whole, and must finish each input quickly.
 *
 * Replay a failure: `FLAME_FUZZ_REPLAY=<target>:<seed> deno test -A tests/fuzz/docker_http_fuzz_test.ts`.
 */

import assert from "node:assert/strict";
import { ChunkedDecoder } from "../../src/docker/chunked.ts";
import { type ResponseEvent, ResponseParser } from "../../src/docker/http_response.ts";
import { DockerProtocolError } from "../../src/docker/mod.ts";
import { chunked, json } from "./docker_fake_engine.ts";
import { defineParserFuzzTests, type FuzzTarget, split, tokens } from "./_fuzz.ts";

const FILE = "tests/fuzz/docker_http_fuzz_test.ts";
const COUNT = 100_000;
const enc = new TextEncoder();
const isDockerProtocolError = (err: unknown) => err instanceof DockerProtocolError;

/**
 * What pushing the pieces led to: whether it was rejected, else what was read.
 * Only the verdict is compared across splits: a push() that throws returns
 * none of its events, so how much body got out before an error depends on
 * the pieces.
 */
interface Outcome {
  verdict: { rejected?: string; status?: number; body?: number; hash?: number; end?: string };
  error?: unknown;
}

function rejected(error: unknown): Outcome {
  return { verdict: { rejected: error instanceof Error ? error.name : String(error) }, error };
}

/** FNV-1a over the body bytes, to compare bodies without keeping them. */
function hash(h: number, bytes: Uint8Array): number {
  for (const byte of bytes) h = Math.imul(h ^ byte, 0x01000193);
  return h;
}

function parseResponse(pieces: Uint8Array[], method: string): Outcome {
  const parser = new ResponseParser({ method, maxHeaderSize: 512 });
  let status = 0;
  let body = 0;
  let h = 0x811c9dc5;
  let end = "";
  const take = (events: ResponseEvent[]) => {
    for (const e of events) {
      if (e.type === "head") status = e.head.status;
      else if (e.type === "data") {
        body += e.data.length;
        h = hash(h, e.data);
      } else end = JSON.stringify([e.keepAlive, [...e.trailers]]);
    }
  };
  try {
    for (const piece of pieces) take(parser.push(piece));
    take(parser.finish());
  } catch (error) {
    return rejected(error);
  }
  return { verdict: { status, body, hash: h, end: `${end} excess ${parser.excess}` } };
}

function decodeChunked(pieces: Uint8Array[]): Outcome {
  const decoder = new ChunkedDecoder({ maxLineSize: 64, maxTrailerSize: 256 });
  let body = 0;
  let h = 0x811c9dc5;
  let consumed = 0;
  try {
    for (const piece of pieces) {
      if (decoder.done) break;
      const result = decoder.push(piece);
      assert.ok(result.consumed <= piece.length, "consumed more than pushed");
      assert.ok(result.consumed === piece.length || result.done, "stopped early without end");
      consumed += result.consumed;
      for (const d of result.data) {
        body += d.length;
        h = hash(h, d);
      }
    }
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    return rejected(error);
  }
  assert.ok(body <= consumed, "more data than consumed");
  const end = JSON.stringify([decoder.done, consumed, [...decoder.trailers]]);
  return { verdict: { body, hash: h, end } };
}

const httpTarget: FuzzTarget = {
  name: "http-response",
  corpus: [
    enc.encode(json(200, { Id: "abc", Warnings: [] })),
    enc.encode(json(404, { message: "No such container: x" }, "Connection: close\r\n")),
    chunked(200, ['{"status":"Pulling"}\r\n', '{"status":"Done"}\r\n']),
    chunked(200, ["abc"], "X-A: 1\r\n"),
    enc.encode("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nApi-Version: 1.41\r\n\r\n"),
    enc.encode("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nclose-delimited body"),
    enc.encode(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
    ),
    enc.encode("HTTP/1.1 200 OK\nContent-Length: 2\n\nOK"),
    enc.encode("\r\nHTTP/1.1 100 Continue\r\n\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    enc.encode(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 ; a = "q;\\"" ; b\r\nok\r\n0\r\n\r\n',
    ),
  ],
  tokens: tokens(
    "HTTP/1.1 ",
    "HTTP/1.0 ",
    "200 OK",
    "101",
    "304",
    "\r\n",
    "\n",
    "\r\n\r\n",
    "Content-Length: ",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: gzip, chunked",
    "Connection: close",
    "Connection: keep-alive",
    ": ",
    " ",
    "\t",
    "0",
    "7",
    "ffffffff",
    "999999999999999",
    ",",
    ";ext",
    "{}",
    "\r",
    '"',
    "=",
    "\\",
    "HTTP/1.1 100 Continue\r\n\r\n",
  ),
  maxLength: 256,
  run(input, random) {
    const method = random() < 0.1 ? "HEAD" : "GET";
    const pieces = parseResponse(split(input, random), method);
    assert.deepEqual(pieces.verdict, parseResponse([input], method).verdict, "split changed it");
    if (pieces.error !== undefined) throw pieces.error;
    assert.ok(pieces.verdict.body! <= input.length, "more body bytes than input");
  },
  allowed: isDockerProtocolError,
};

const chunkedTarget: FuzzTarget = {
  name: "chunked",
  corpus: tokens(
    "3\r\nabc\r\n0\r\n\r\n",
    "A;name=value\r\n0123456789\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n",
    "1\r\nx\r\n0\r\nT: 1\n\n",
    '2 ; a = "q;\\"" ; b\r\nok\r\n0\r\n\r\n',
    "000010\r\n0123456789abcdef\r\n0\r\n\r\n",
  ),
  tokens: tokens(
    "\r\n",
    "\n",
    "\r",
    "0",
    "1",
    "f",
    "F",
    "10",
    "fffffffffffff",
    ";",
    "x",
    ": ",
    "a",
    " ",
    "=",
    '"',
    "\\",
  ),
  maxLength: 192,
  run(input, random) {
    const pieces = decodeChunked(split(input, random));
    assert.deepEqual(pieces.verdict, decodeChunked([input]).verdict, "split changed it");
    if (pieces.error !== undefined) throw pieces.error;
  },
  allowed: isDockerProtocolError,
};

defineParserFuzzTests([httpTarget, chunkedTarget], {
  count: COUNT,
  base: 0xd0c0,
  file: FILE,
  errorName: "DockerProtocolError",
});
