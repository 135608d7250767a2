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

/**
 * Pushes `text` in every split (without EOF: the error must not wait for the
 * connection to close): each must throw a DockerProtocolError matching
 * `pattern` (a string: exactly that message), having handed out no more than
 * `bodyBefore` of body first, and exactly that when pushed a byte at a time.
 */
function assertRejectedEverySplit(
  text: string,
  pattern: RegExp | string,
  bodyBefore = "",
): void {
  const input = bytes(text);
  const matches = (message: string) =>
    typeof pattern === "string" ? message === pattern : pattern.test(message);
  for (const pieces of everySplit(input)) {
    const parser = new ResponseParser();
    const data: Uint8Array[] = [];
    const split = pieces.map((p) => p.length).join("+");
    assert.throws(
      () => {
        for (const piece of pieces) {
          for (const e of parser.push(piece)) if (e.type === "data") data.push(e.data);
        }
      },
      (e) => e instanceof DockerProtocolError && matches(e.message),
      `pieces ${split}`,
    );
    // Only pieces pushed whole before the throw hand out data, so a split can show less.
    const body = new TextDecoder().decode(concat(data));
    assert.ok(
      bodyBefore.startsWith(body),
      `handed out ${JSON.stringify(body)} with pieces ${split}`,
    );
    if (pieces.length === 1) assert.equal(body, "", "a throwing push() returns nothing");
  }
  const bytewise = new ResponseParser();
  const data: Uint8Array[] = [];
  assert.throws(() => {
    for (const byte of input) {
      for (const e of bytewise.push(Uint8Array.of(byte))) if (e.type === "data") data.push(e.data);
    }
  }, DockerProtocolError);
  assert.equal(new TextDecoder().decode(concat(data)), bodyBefore, "handed out a byte at a time");
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
      '5;name="v;x"\r\nhello\r\n001 ; e = t\t;q="a\\"\t\xe9"\r\n \r\n5;x\r\nworld\r\n' +
      "0\r\nX-Sum: 1\r\nX-Other: b\r\n\r\n",
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
  assertEverySplit(
    "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    { status: 200, headers: { "content-length": "2" }, body: "ok" },
  );
});

Deno.test("ResponseParser skips empty lines before a status line, also after an interim response", () => {
  const final = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  assertEverySplit(`\r\n${final}`, { status: 200, body: "ok", excess: 0 });
  assertEverySplit(`\n\r\n${final}`, { status: 200, body: "ok" });
  assertEverySplit(`HTTP/1.1 100 Continue\r\n\r\n\r\n${final}`, { status: 200, body: "ok" });
  assertEverySplit(
    `HTTP/1.1 100 Continue\r\n\r\n\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n\n${final}`,
    { status: 200, body: "ok" },
  );
  // Eight empty lines before each status line pass, a ninth is garbage.
  const eight = "\r\n".repeat(8);
  assertEverySplit(`${eight}HTTP/1.1 100 Continue\r\n\r\n${eight}${final}`, { body: "ok" });
  assertRejectedEverySplit(
    `${eight}\r\n${final}`,
    /more than 8 empty lines before its status line/,
  );
  assertRejectedEverySplit(
    `HTTP/1.1 100 Continue\r\n\r\n${eight}\n${final}`,
    /more than 8 empty lines/,
  );
  assertProtocolError("\r\n\r\n", /Connection closed before a response was received/);
  assertProtocolError(
    "HTTP/1.1 100 Continue\r\n\r\n\r\n",
    /closed after an interim \(1xx\) response, before the final one/,
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

Deno.test("ResponseParser accepts bare LF line endings in the head and trailers only", () => {
  // RFC 9112 §2.2 lets a recipient take a bare LF as the end of a start line or field line.
  assertEverySplit("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", { body: "ok" });
  assertEverySplit("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\r\nok\r\n0\r\nT: 1\n\n", {
    body: "ok",
    trailers: { t: "1" },
  });
  // The chunked framing itself is not a field: its lines end with CRLF.
  const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  assertRejectedEverySplit(
    `${head}2\nok\r\n0\r\n\r\n`,
    /Chunk size line "2" does not end with CRLF/,
  );
  assertRejectedEverySplit(`${head}2\r\nok\n0\r\n\r\n`, /Chunk data is not followed by CRLF/, "ok");
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
  assertProtocolError(" HTTP/1.1 200 OK\r\n\r\n", /Invalid status line " HTTP\/1.1 200 OK"/);
  assertProtocolError("RTSP/1.0 200 OK\r\n\r\n", /Invalid status line/);
  assertRejectedEverySplit(
    "HTTP/1.1 200 OK\x00\r\n\r\n",
    /Invalid status line .*: control character 0x00/,
  );
});

Deno.test("ResponseParser rejects a bare CR anywhere outside a body, split anywhere", () => {
  const ok = "Content-Length: 0\r\n\r\n";
  assertRejectedEverySplit(
    `HTTP/1.1 200 OK\r\nFoo: 1\rBar: 2\r\n${ok}`,
    /Invalid header line "Foo: 1\\rBar: 2": a bare CR \(one not followed by LF\)/,
  );
  assertRejectedEverySplit(
    `HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n`,
    /Invalid status line "HTTP\/1.1 200 OK\\rContent-Length: 0": a bare CR/,
  );
  assertRejectedEverySplit("HTTP/1.1 200 OK\r\rContent-Length: 4\r\n\r\nEvil", /a bare CR/);
  assertRejectedEverySplit(`HTTP/1.1 200 OK\r\nX: 1\r\r\n${ok}`, /Invalid header line "X: 1\\r"/);
  assertRejectedEverySplit(`HTTP/1.1 200 OK\r\nX: 1\r\n\r\r\n${ok}`, /Invalid header line "\\r"/);
  assertRejectedEverySplit(`\rHTTP/1.1 200 OK\r\n${ok}`, /a bare CR .* before the status line/);
  assertRejectedEverySplit(`\r\r\nHTTP/1.1 200 OK\r\n${ok}`, /a bare CR .* before the status line/);
  assertRejectedEverySplit(
    `HTTP/1.1 100 Continue\r\n\r\n\r\rHTTP/1.1 200 OK\r\n${ok}`,
    /a bare CR .* before the status line/,
  );
  const chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  assertRejectedEverySplit(
    `${chunked}2\rX\r\nok\r\n0\r\n\r\n`,
    /Invalid chunk size line "2\\rX": a bare CR/,
  );
  assertRejectedEverySplit(`${chunked}2;a\r\r\nok\r\n0\r\n\r\n`, /a bare CR/);
  assertRejectedEverySplit(
    `${chunked}2\r\nok\r\n0\r\nX: 1\rY: 2\r\n\r\n`,
    /Invalid trailer line "X: 1\\rY: 2": a bare CR/,
    "ok",
  );
  assertRejectedEverySplit(`${chunked}2\r\nok\r\n0\r\n\r\r\n`, /Invalid trailer line "\\r"/, "ok");
});

Deno.test("ResponseParser rejects malformed header lines", () => {
  assertProtocolError("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", /Invalid header line/);
  assertProtocolError("HTTP/1.1 200 OK\r\nX: 1\r\n folded\r\n\r\n", /Folded header line/);
  assertProtocolError("HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n", /Invalid header name/);
  assertProtocolError("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", /Invalid Content-Length/);
  assertProtocolError("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", /Invalid Content-Length/);
  assertProtocolError("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", /Invalid Content-Length/);
  assertRejectedEverySplit(
    "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
    /"X: a\\u0000b": control character 0x00/,
  );
  assertRejectedEverySplit("HTTP/1.1 200 OK\r\nX: \x1b[2J\r\n\r\n", /control character 0x1b/);
  // Tabs and obs-text are field content.
  assertEverySplit("HTTP/1.1 200 OK\r\nX: a\tb\xe9\r\nContent-Length: 0\r\n\r\n", {
    headers: { x: "a\tb\xe9", "content-length": "0" },
  });
});

Deno.test("ResponseParser rejects whitespace starting a header line as soon as it arrives", () => {
  // No EOF: a valid head cannot follow, so the error must not wait for one.
  assertRejectedEverySplit(
    "HTTP/1.1 200 OK\r\n Host: foo",
    /Invalid response: whitespace between the status line and the first header \(" /,
  );
  assertRejectedEverySplit("HTTP/1.1 200 OK\r\nX: 1\r\n\tfolded", /Folded header line "\\t/);
  assertRejectedEverySplit("HTTP/1.1 200 OK\nX: 1\n folded", /Folded header line " /);
  assertRejectedEverySplit("HTTP/1.1 200 OK\r\nX: 1\r\n \r\n\r\n", /Folded header line/);
});

Deno.test("ResponseParser rejects a 101 it did not ask for", () => {
  assertRejectedEverySplit(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\nraw stream",
    /Unexpected 101 Switching Protocols response: the request did not ask to upgrade/,
  );
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

Deno.test("ResponseParser rejects a malformed chunk-size line before handing out its chunk", () => {
  // The full grammar is tested on ChunkedDecoder; these go through the whole response.
  const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const good = "3;a=b\r\nabc\r\n";
  for (const line of ["25  ", "2;", '2;a="x']) {
    const pattern = `Invalid chunk size line ${JSON.stringify(line)}`;
    assertRejectedEverySplit(`${head}${line}\r\nok\r\n0\r\n\r\n`, pattern);
    assertRejectedEverySplit(`${head}${good}${line}\r\nok\r\n0\r\n\r\n`, pattern, "abc");
  }
  // llhttp's "Unbalanced chunk extensions quoting" vector: nothing of "hello" gets out.
  assertRejectedEverySplit(
    `${head}5;ilovew3="abc";somuchlove="def; ghi\r\nhello\r\n0\r\n\r\n`,
    /Invalid chunk size line "5;ilovew3=\\"abc\\";somuchlove=\\"def; ghi"$/,
  );
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
