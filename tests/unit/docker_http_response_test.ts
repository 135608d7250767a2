import assert from "node:assert/strict";
import { DockerProtocolError } from "../../src/docker/mod.ts";
import {
  type ResponseEvent,
  ResponseParser,
  type ResponseParserOptions,
} from "../../src/docker/http_response.ts";
import { mulberry32 } from "../_helpers/prng.ts";
import { bytes, concat, everySplit, forSeeds, randomSplit } from "../fuzz/docker_splits.ts";

interface Parsed {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: string;
  keepAlive: boolean;
  trailers: Record<string, string>;
  excess: number;
}

/** Feeds the pieces, then EOF when `eof`, and checks the event order. */
function parse(pieces: Uint8Array[], options: ResponseParserOptions = {}, eof = false): Parsed {
  const parser = new ResponseParser(options);
  const events: ResponseEvent[] = [];
  for (const piece of pieces) events.push(...parser.push(piece));
  if (eof) events.push(...parser.finish());
  assert.equal(events[0]?.type, "head", "first event is the head");
  const end = events.at(-1);
  assert.ok(end?.type === "end", "last event is the end");
  assert.ok(events.slice(1, -1).every((e) => e.type === "data"), "data in between");
  const head = events[0].head;
  const data = events.flatMap((e) => e.type === "data" ? [e.data] : []);
  return {
    status: head.status,
    statusText: head.statusText,
    headers: Object.fromEntries(head.headers),
    body: new TextDecoder().decode(concat(data)),
    keepAlive: end.keepAlive,
    trailers: Object.fromEntries(end.trailers),
    excess: parser.excess,
  };
}

function assertEverySplit(text: string, expected: Partial<Parsed>, eof = false): void {
  const input = bytes(text);
  let count = 0;
  for (const pieces of everySplit(input)) {
    const parsed = parse(pieces, {}, eof);
    for (const [key, value] of Object.entries(expected)) {
      assert.deepEqual(
        parsed[key as keyof Parsed],
        value,
        `${key} with pieces ${pieces.map((p) => p.length).join("+")}`,
      );
    }
    count++;
  }
  assert.ok(count > input.length);
}

function assertProtocolError(text: string | Uint8Array, pattern: RegExp, eof = true): void {
  const input = typeof text === "string" ? bytes(text) : text;
  const run = (pieces: Uint8Array[]) => {
    const parser = new ResponseParser();
    for (const piece of pieces) parser.push(piece);
    if (eof) parser.finish();
  };
  assert.throws(
    () => run([input]),
    (e) => e instanceof DockerProtocolError && pattern.test(e.message),
  );
  forSeeds(50, 7, (seed) => {
    assert.throws(
      () => run(randomSplit(input, seed, Math.max(16, input.length >> 6))),
      (e) => e instanceof DockerProtocolError && pattern.test(e.message),
    );
  });
}

Deno.test("ResponseParser handles Content-Length bodies split anywhere", () => {
  assertEverySplit(
    "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
    {
      status: 200,
      statusText: "OK",
      headers: { "api-version": "1.41", "content-type": "text/plain", "content-length": "11" },
      body: "hello world",
      keepAlive: true,
      excess: 0,
    },
  );
});

Deno.test("ResponseParser handles chunked bodies with extensions and trailers split anywhere", () => {
  assertEverySplit(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      '5;name="v;x"\r\nhello\r\n001 \r\n \r\n5\r\nworld\r\n0\r\nX-Sum: 1\r\nX-Other: b\r\n\r\n',
    {
      status: 200,
      body: "hello world",
      keepAlive: true,
      trailers: { "x-sum": "1", "x-other": "b" },
      excess: 0,
    },
  );
});

Deno.test("ResponseParser handles a body ended by the connection closing", () => {
  assertEverySplit("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstreamed until close", {
    body: "streamed until close",
    keepAlive: false,
  }, true);
  assertEverySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw", {
    body: "raw",
    keepAlive: false,
  }, true);
});

Deno.test("ResponseParser reads no body for 204, 304 and HEAD", () => {
  assertEverySplit("HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n", {
    status: 204,
    body: "",
    keepAlive: true,
  });
  // A 304 may announce the length of the body it does not send.
  assertEverySplit("HTTP/1.1 304 Not Modified\r\nContent-Length: 12\r\n\r\n", {
    status: 304,
    body: "",
    keepAlive: true,
  });
  const head = parse([bytes("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n")], { method: "HEAD" });
  assert.equal(head.body, "");
});

Deno.test("ResponseParser skips interim 1xx responses", () => {
  assertEverySplit(
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
    { status: 201, body: "{}" },
  );
});

Deno.test("ResponseParser reads headers case-insensitively and joins repeats", () => {
  const parsed = parse([
    bytes(
      "HTTP/1.1 200 \r\nX-A: 1\r\nx-a:2\r\nCONTENT-LENGTH:  0  \r\nEmpty:\r\n\r\n",
    ),
  ]);
  assert.deepEqual(parsed.headers, { "x-a": "1, 2", "content-length": "0", empty: "" });
  assert.equal(parsed.statusText, "");
  assert.equal(parse([bytes("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")]).statusText, "");
});

Deno.test("ResponseParser accepts bare LF line endings", () => {
  assertEverySplit("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", { body: "ok" });
  assertEverySplit("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nok\n0\n\n", { body: "ok" });
});

Deno.test("ResponseParser decides keep-alive from the version and Connection", () => {
  const keepAlive = (text: string) => parse([bytes(text)]).keepAlive;
  assert.equal(keepAlive("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), true);
  assert.equal(
    keepAlive("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n"),
    false,
  );
  assert.equal(keepAlive("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), false);
  assert.equal(
    keepAlive("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"),
    true,
  );
  // Both framings: chunked wins, and the connection is not reused.
  const both = parse([
    bytes(
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ),
  ]);
  assert.deepEqual([both.body, both.keepAlive], ["ok", false]);
});

Deno.test("ResponseParser counts bytes after the end of the response", () => {
  assertEverySplit("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", {
    body: "ok",
    excess: 5,
  });
});

Deno.test("ResponseParser rejects a bad status line", () => {
  assertProtocolError("HTTP/2 200 OK\r\n\r\n", /Invalid status line "HTTP\/2 200 OK"/);
  assertProtocolError("HTTP/1.1 20 OK\r\n\r\n", /Invalid status line/);
  assertProtocolError("HTTP/1.1 099 Odd\r\n\r\n", /Invalid status line/);
  assertProtocolError("SSH-2.0-OpenSSH\r\n\r\n", /Invalid status line/);
  assertProtocolError("\r\n\r\n", /Invalid status line ""/);
});

Deno.test("ResponseParser rejects malformed header lines", () => {
  assertProtocolError("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", /Invalid header line/);
  assertProtocolError("HTTP/1.1 200 OK\r\nX: 1\r\n folded\r\n\r\n", /Folded header line/);
  assertProtocolError("HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n", /Invalid header name/);
  assertProtocolError("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", /Invalid Content-Length/);
  assertProtocolError("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", /Invalid Content-Length/);
  assertProtocolError("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", /Invalid Content-Length/);
});

Deno.test("ResponseParser rejects a bad chunk size", () => {
  const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  assertProtocolError(`${head}zz\r\n`, /Invalid chunk size line "zz"/);
  assertProtocolError(`${head}-1\r\n`, /Invalid chunk size line/);
  assertProtocolError(`${head}\r\n`, /Invalid chunk size line ""/);
  assertProtocolError(`${head}fffffffffffffffff\r\n`, /Invalid chunk size line/);
  assertProtocolError(`${head}2\r\nokX\r\n`, /not followed by CRLF/);
  assertProtocolError(`${head}2\r\nok\rX`, /not followed by CRLF/);
  assertProtocolError(`${head}${"1".repeat(5000)}`, /Chunk size line exceeds 4096 bytes/);
});

Deno.test("ResponseParser rejects oversize headers without buffering them all", () => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`;
  assertProtocolError(big, /Response head exceeds 65536 bytes/, false);
  // The limit is configurable, and a head just within it passes.
  const head = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  const exact = new ResponseParser({ maxHeaderSize: head.length });
  assert.equal(exact.push(bytes(head)).length, 2);
  const under = new ResponseParser({ maxHeaderSize: head.length - 1 });
  assert.throws(() => under.push(bytes(head)), DockerProtocolError);
  const trailers = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ${
    "t".repeat(70_000)
  }\r\n\r\n`;
  assertProtocolError(trailers, /Chunked trailers exceed 65536 bytes/, false);
});

Deno.test("ResponseParser rejects truncated responses at EOF", () => {
  assertProtocolError("", /closed before a response/);
  assertProtocolError("HTTP/1.1 200 OK\r\nContent-Le", /closed inside the response head/);
  assertProtocolError(
    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    /closed with 5 bytes of the response body missing/,
  );
  assertProtocolError(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    /closed inside a chunked response body/,
  );
  assertProtocolError(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n",
    /closed inside a chunked response body/,
  );
});

/** Builds a random valid response and what parsing it must give. */
function randomResponse(seed: number): { text: Uint8Array; expected: Parsed; eof: boolean } {
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const word = (n: number) =>
    Array.from({ length: 1 + Math.floor(random() * n) }, () => pick([..."abcXYZ019-_"])).join("");
  const status = pick([200, 201, 204, 304, 404, 409, 500]);
  const headers: Record<string, string> = {};
  let head = `HTTP/1.1 ${status} ${word(8)}\r\n`;
  for (let i = Math.floor(random() * 5); i > 0; i--) {
    const name = `X-${word(6)}`;
    const value = word(30);
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
    head += `${name}: ${value}\r\n`;
  }
  const bodyless = status === 204 || status === 304;
  const body = bodyless
    ? ""
    : Array.from({ length: Math.floor(random() * 300) }, () => pick([...'{}":,abc\r\n0é'])).join(
      "",
    );
  const bodyBytes = bytes(body);
  const framing = bodyless ? "none" : pick(["length", "chunked", "close"]);
  let tail = "";
  const trailers: Record<string, string> = {};
  if (framing === "length") {
    head += `Content-Length: ${bodyBytes.length}\r\n`;
    headers["content-length"] = String(bodyBytes.length);
  } else if (framing === "chunked") {
    head += "Transfer-Encoding: chunked\r\n";
    headers["transfer-encoding"] = "chunked";
  }
  const parts: Uint8Array[] = [bytes(head + "\r\n")];
  if (framing === "chunked") {
    let offset = 0;
    while (offset < bodyBytes.length) {
      const size = 1 + Math.floor(random() * 40);
      const piece = bodyBytes.subarray(offset, offset + size);
      const extension = random() < 0.3 ? `;e=${word(4)}` : "";
      parts.push(bytes(`${piece.length.toString(16)}${extension}\r\n`), piece, bytes("\r\n"));
      offset += size;
    }
    if (random() < 0.5) {
      const value = word(10);
      trailers["x-trailer"] = value;
      tail = `X-Trailer: ${value}\r\n`;
    }
    parts.push(bytes(`0\r\n${tail}\r\n`));
  } else {
    parts.push(bodyBytes);
  }
  return {
    text: concat(parts),
    eof: framing === "close",
    expected: {
      status,
      statusText: "",
      headers,
      body,
      keepAlive: framing !== "close",
      trailers,
      excess: 0,
    },
  };
}

Deno.test("ResponseParser gives the same result for thousands of random responses and splits", () => {
  forSeeds(3000, 0xd0c4e5, (seed) => {
    const { text, expected, eof } = randomResponse(seed);
    const parsed = parse(randomSplit(text, seed ^ 0x5a5a, 1 + (seed % 97)), {}, eof);
    assert.deepEqual({ ...parsed, statusText: "" }, expected);
  });
});
