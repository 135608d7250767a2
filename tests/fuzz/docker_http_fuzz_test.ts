/**
 * Fuzz: the Docker client's HTTP response parser and chunked decoder on 100 000 random and 100 000 mutated
 * inputs each, pushed in random pieces. They may only throw
 * `DockerProtocolError`, must never emit more bytes than they were given,
 * and must finish each input quickly.
 *
 * Replay a failure: `FLAME_FUZZ_REPLAY=<target>:<seed> deno test -A tests/fuzz/docker_http_fuzz_test.ts`.
 */

import assert from "node:assert/strict";
import { ChunkedDecoder } from "../../src/docker/chunked.ts";
import { ResponseParser } from "../../src/docker/http_response.ts";
import { DockerProtocolError } from "../../src/docker/mod.ts";
import { chunked, json } from "./docker_fake_engine.ts";
import { defineParserFuzzTests, type FuzzTarget, split, tokens } from "./_fuzz.ts";

const FILE = "tests/fuzz/docker_http_fuzz_test.ts";
const COUNT = 100_000;
const enc = new TextEncoder();
const isDockerProtocolError = (err: unknown) => err instanceof DockerProtocolError;

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
  ),
  maxLength: 256,
  run(input, random) {
    const parser = new ResponseParser({
      method: random() < 0.1 ? "HEAD" : "GET",
      maxHeaderSize: 512,
    });
    let data = 0;
    for (const piece of split(input, random)) {
      for (const e of parser.push(piece)) if (e.type === "data") data += e.data.length;
    }
    parser.finish();
    assert.ok(data <= input.length, "more body bytes than input");
  },
  allowed: isDockerProtocolError,
};

const chunkedTarget: FuzzTarget = {
  name: "chunked",
  corpus: tokens(
    "3\r\nabc\r\n0\r\n\r\n",
    "A;name=value\r\n0123456789\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n",
    "1\nx\n0\n\n",
    "000010\r\n0123456789abcdef\r\n0\r\n\r\n",
  ),
  tokens: tokens("\r\n", "\n", "0", "1", "f", "F", "10", "fffffffffffff", ";", "x", ": ", "a"),
  maxLength: 192,
  run(input, random) {
    const decoder = new ChunkedDecoder({ maxLineSize: 64, maxTrailerSize: 256 });
    let data = 0;
    let consumed = 0;
    for (const piece of split(input, random)) {
      if (decoder.done) break;
      const result = decoder.push(piece);
      assert.ok(result.consumed <= piece.length, "consumed more than pushed");
      assert.ok(result.consumed === piece.length || result.done, "stopped early without end");
      consumed += result.consumed;
      for (const d of result.data) data += d.length;
    }
    assert.ok(data <= consumed, "more data than consumed");
  },
  allowed: isDockerProtocolError,
};

defineParserFuzzTests([httpTarget, chunkedTarget], {
  count: COUNT,
  base: 0xd0c0,
  file: FILE,
  errorName: "DockerProtocolError",
});
