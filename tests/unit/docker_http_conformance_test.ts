/**
 * Conformance: the Docker client's response parser against llhttp's own
 * response test vectors (nodejs/llhttp `test/response/*.md`, extracted as
 * data to `/work/shared/conformance/llhttp_responses.json`, which CI provides
 * and this repository does not copy). For every vector in scope, our parser
 * must agree with llhttp's strict verdict: where llhttp accepts, the same
 * status, reason, headers, body, end offset and keep-alive; where it rejects,
 * a `DockerProtocolError` from `push()` (not a wait for more bytes), with no
 * head or body byte handed out that llhttp did not hand out first. Each
 * vector is fed whole, cut once at every position, and a byte at a time.
 *
 * Nothing is skipped silently: lenient-mode vectors are out of scope by
 * category (below), and every deliberate difference is listed by name in
 * {@linkcode BY_DESIGN} with what we do instead (checked) and why.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DockerProtocolError } from "../../src/docker/mod.ts";
import { ResponseParser } from "../../src/docker/http_response.ts";
import { concat } from "../fuzz/docker_splits.ts";

const VECTORS = new URL("../../../shared/conformance/llhttp_responses.json", import.meta.url);

/** One message as llhttp's callbacks reported it. */
interface LlhttpMessage {
  status: number | null;
  status_text: string;
  headers: [string, string][];
  body_base64: string;
  /** Offset just past the message, when llhttp completed it. */
  complete: number | null;
  /** Whether the body ends only when the connection closes. */
  needs_eof: boolean | null;
  keep_alive: boolean | null;
}

/** One llhttp test vector. */
interface Vector {
  name: string;
  source: string;
  meta: { type: string; skipBody?: boolean; pause?: string; noScan?: boolean };
  raw_base64: string;
  llhttp_accepts: boolean;
  error: { off: number; code: number; reason: string } | null;
  messages: LlhttpMessage[];
}

function load(): Vector[] | undefined {
  try {
    return (JSON.parse(Deno.readTextFileSync(VECTORS)) as { cases: Vector[] }).cases;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

const vectors = load();

/**
 * `meta` keys and what they mean for us. `pause` (llhttp's pause API) and
 * `noScan` (a harness option) do not change the bytes or the verdict;
 * `skipBody` is llhttp's "no body follows this head", which is how a
 * response to HEAD is read: we parse it with `method: "HEAD"`.
 */
const META_KEYS = new Set(["type", "pause", "noScan", "skipBody"]);
const IN_SCOPE_TYPES = new Set(["response", "response-finish"]);
const LENIENT_PREFIX = "response-lenient-";

/** What we do instead of llhttp's strict verdict, checked for the vector. */
type Ours =
  /** We reject what llhttp accepts. */
  | { ours: "rejects" }
  /** We give what llhttp gives for the named vector in one of its lenient modes. */
  | { ours: "like"; lenient: string }
  /**
   * We read the messages llhttp read before its error, and count the bytes
   * after them as `excess` on a connection that is closed, not reused.
   */
  | { ours: "ends before the excess" }
  /** We agree on everything but the keep-alive verdict, which is ours. */
  | { ours: "keeps alive"; keepAlive: boolean };

const LF_LINE_ENDS =
  "A bare LF ends a status or header line: RFC 9112 §2.2 lets a recipient recognize one, and it is what llhttp's optional-CR-before-LF leniency does. Strict CRLF is still required on chunk-size lines and after chunk data, where §2.2 does not apply";
const DATA_AFTER_CLOSE =
  "A Connection: close response ends at its framing; the bytes after it are counted in `excess` and the connection is closed instead of reused, so they are never parsed (llhttp's data-after-close leniency), rather than failing a response that was read whole";
const NOT_HTTP_1 =
  "The Docker Engine speaks HTTP/1.0 and HTTP/1.1 only; any other protocol or version in the status line is a DockerProtocolError";

/** Deliberate differences from llhttp's strict mode, by vector name. */
const BY_DESIGN: ReadonlyMap<string, Ours & { why: string }> = new Map([
  ["HTTP version 0.9", { ours: "rejects", why: NOT_HTTP_1 }],
  ["RTSP response", { ours: "rejects", why: NOT_HTTP_1 }],
  ["ICE response", { ours: "rejects", why: NOT_HTTP_1 }],
  ["No carriage ret", { ours: "like", lenient: "No carriage ret (lenient)", why: LF_LINE_ENDS }],
  [
    "Only LFs present",
    { ours: "like", lenient: "Only LFs present (lenient)", why: LF_LINE_ENDS },
  ],
  [
    "Only LFs present and no body",
    { ours: "like", lenient: "Only LFs present and no body (lenient)", why: LF_LINE_ENDS },
  ],
  [
    "HTTP/1.1 with keep-alive disabled and 204 status",
    { ours: "ends before the excess", why: DATA_AFTER_CLOSE },
  ],
  [
    "HTTP/1.1 with keep-alive disabled, content-length",
    { ours: "ends before the excess", why: DATA_AFTER_CLOSE },
  ],
  [
    "Proxy-Connection",
    {
      ours: "keeps alive",
      keepAlive: true,
      why:
        "Keep-alive is decided by Connection alone: Proxy-Connection was never standardized (RFC 7230 §A.1.2) and the engine does not send it",
    },
  ],
]);

/** Why a vector is out of scope, or `undefined` when it is in. */
function outOfScope(vector: Vector): string | undefined {
  const type = vector.meta.type;
  if (type.startsWith(LENIENT_PREFIX)) {
    return `llhttp lenient mode "${type.slice(LENIENT_PREFIX.length)}"`;
  }
  return undefined;
}

/** A message, in the shape both sides are compared in. */
interface Message {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** Whether the message ended (at its framing, or by EOF for a close-delimited body). */
  ended: boolean;
  /** Offset just past it when its framing ended it, else `null`. */
  complete: number | null;
  /** Keep-alive verdict of an ended message, else `null`. */
  keepAlive: boolean | null;
}

const OWS = /^[ \t]+|[ \t]+$/g;

/**
 * llhttp's messages as we report them: interim 1xx heads folded away (we
 * skip them), a head llhttp never completed left out, names lower-cased,
 * repeats joined with ", ", and values without surrounding whitespace (RFC
 * 9110 §5.5 excludes it from the field value; llhttp's spans keep a trailing tab).
 */
function expected(vector: Vector): Message[] {
  const out: Message[] = [];
  for (const m of vector.messages) {
    if (m.status === null || (m.status >= 100 && m.status < 200)) continue;
    const headers: Record<string, string> = {};
    for (const [name, raw] of m.headers) {
      const key = name.toLowerCase();
      const value = raw.replace(OWS, "");
      headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
    }
    const ended = m.complete !== null || m.needs_eof === true;
    out.push({
      status: m.status,
      statusText: m.status_text,
      headers,
      body: Uint8Array.from(atob(m.body_base64), (c) => c.charCodeAt(0)),
      ended,
      complete: m.complete,
      keepAlive: ended ? m.keep_alive : null,
    });
  }
  return out;
}

/** What our parser made of a vector's bytes. */
interface Run {
  messages: Message[];
  /** The error `push()` threw, if any. */
  error: unknown;
  /** Bytes left after a response on a connection that is not reused. */
  excess: number;
}

/**
 * Reads the bytes as a connection would: one parser per response, the next
 * one starting where the last ended while the connection is kept alive, and
 * EOF at the end (which ends a close-delimited body, or leaves a response
 * incomplete, as llhttp left it). The bytes arrive in pieces cut at `cuts`.
 */
function run(bytes: Uint8Array, cuts: readonly number[], method: string): Run {
  const messages: Message[] = [];
  const ends = [...cuts, bytes.length];
  let parser = new ResponseParser({ method });
  let fed = false;
  let current: Message | undefined;
  let pos = 0;
  let b = 0;
  try {
    while (pos < bytes.length) {
      while (ends[b]! <= pos) b++;
      const piece = bytes.slice(pos, ends[b]);
      fed = true;
      for (const event of parser.push(piece)) {
        if (event.type === "head") {
          const { status, statusText, headers } = event.head;
          current = {
            status,
            statusText,
            headers: Object.fromEntries(headers),
            body: new Uint8Array(),
            ended: false,
            complete: null,
            keepAlive: null,
          };
          messages.push(current);
        } else if (event.type === "data") {
          current!.body = concat([current!.body, event.data]);
        } else {
          current!.ended = true;
          current!.keepAlive = event.keepAlive;
        }
      }
      if (!parser.done) {
        pos += piece.length;
        continue;
      }
      pos += piece.length - parser.excess;
      current!.complete = pos;
      if (!current!.keepAlive) return { messages, error: undefined, excess: bytes.length - pos };
      parser = new ResponseParser({ method });
      fed = false;
    }
  } catch (error) {
    return { messages, error, excess: 0 };
  }
  if (fed) {
    try {
      for (const event of parser.finish()) {
        if (event.type === "end") {
          current!.ended = true;
          current!.keepAlive = event.keepAlive;
        }
      }
    } catch (error) {
      // The bytes end inside a response: incomplete, as llhttp left it unfinished.
      if (!(error instanceof DockerProtocolError)) throw error;
    }
  }
  return { messages, error: undefined, excess: 0 };
}

/** The deliveries each vector is checked with: whole, every single cut, a byte at a time. */
function* deliveries(length: number): Generator<{ label: string; cuts: number[] }> {
  yield { label: "whole", cuts: [] };
  for (let at = 1; at < length; at++) yield { label: `cut at ${at}`, cuts: [at] };
  yield { label: "a byte at a time", cuts: Array.from({ length }, (_, i) => i + 1) };
}

function bytesOf(vector: Vector): Uint8Array {
  return Uint8Array.from(atob(vector.raw_base64), (c) => c.charCodeAt(0));
}

function methodOf(vector: Vector): string {
  return vector.meta.skipBody === true ? "HEAD" : "GET";
}

function assertAccepts(vector: Vector, want: Message[], keepAlive?: boolean): Run {
  const bytes = bytesOf(vector);
  let last: Run | undefined;
  for (const { label, cuts } of deliveries(bytes.length)) {
    const got = run(bytes, cuts, methodOf(vector));
    if (got.error !== undefined) {
      throw new Error(`Rejected (${label}): ${(got.error as Error).message}`, {
        cause: got.error,
      });
    }
    const wanted = keepAlive === undefined
      ? want
      : want.map((m) => m.ended ? { ...m, keepAlive } : m);
    assert.deepEqual(got.messages, wanted, label);
    last = got;
  }
  return last!;
}

function assertRejects(vector: Vector, want: Message[]): void {
  const bytes = bytesOf(vector);
  for (const { label, cuts } of deliveries(bytes.length)) {
    const got = run(bytes, cuts, methodOf(vector));
    assert.ok(
      got.error instanceof DockerProtocolError,
      `${label}: expected a DockerProtocolError from push(), got ${
        got.error === undefined ? "no error" : String(got.error)
      }`,
    );
    // Delivered a byte at a time, every event before the error is seen: no head
    // or body byte may get out that llhttp did not hand out before its error.
    if (cuts.length === bytes.length) {
      assert.deepEqual(got.messages, want, `${label}: handed out before the error`);
    }
  }
}

const counts = { agreed: 0, byDesign: 0, skipped: new Map<string, string[]>() };

Deno.test({
  name: "ResponseParser agrees with llhttp's strict verdict on its response vectors",
  // In CI (FLAME_REQUIRE_DOCKER=1) the vectors are there: a missing file fails instead.
  ignore: vectors === undefined && Deno.env.get("FLAME_REQUIRE_DOCKER") !== "1",
  async fn(t) {
    assert.ok(vectors, "../shared/conformance/llhttp_responses.json is missing (CI has it)");
    const byName = new Map(vectors!.map((v) => [v.name, v]));
    assert.equal(byName.size, vectors!.length, "vector names are unique");
    for (const name of BY_DESIGN.keys()) assert.ok(byName.has(name), `BY_DESIGN names "${name}"`);
    for (const vector of vectors!) {
      for (const key of Object.keys(vector.meta)) {
        assert.ok(META_KEYS.has(key), `"${vector.name}": decide the scope of meta "${key}"`);
      }
      const skip = outOfScope(vector);
      if (skip !== undefined) {
        counts.skipped.set(skip, [...counts.skipped.get(skip) ?? [], vector.name]);
        continue;
      }
      assert.ok(
        IN_SCOPE_TYPES.has(vector.meta.type),
        `"${vector.name}": decide the scope of type "${vector.meta.type}"`,
      );
      await t.step(`${vector.name} (${vector.source})`, () => {
        const design = BY_DESIGN.get(vector.name);
        const want = expected(vector);
        if (design === undefined) {
          if (vector.llhttp_accepts) assertAccepts(vector, want);
          else assertRejects(vector, want);
          counts.agreed++;
          return;
        }
        switch (design.ours) {
          case "rejects":
            assert.ok(vector.llhttp_accepts, "llhttp accepts what we reject");
            assertRejects(vector, []);
            break;
          case "like": {
            assert.ok(!vector.llhttp_accepts, "llhttp rejects what we accept");
            const lenient = byName.get(design.lenient)!;
            assert.equal(
              lenient.raw_base64,
              vector.raw_base64,
              "the lenient twin has the same bytes",
            );
            assertAccepts(vector, expected(lenient));
            break;
          }
          case "ends before the excess": {
            assert.ok(!vector.llhttp_accepts, "llhttp rejects what we accept");
            const got = assertAccepts(vector, want);
            const end = want.at(-1)!.complete!;
            assert.equal(got.excess, bytesOf(vector).length - end, "the rest is excess");
            assert.equal(want.at(-1)!.keepAlive, false, "on a connection that is not reused");
            break;
          }
          case "keeps alive":
            assert.ok(vector.llhttp_accepts, "llhttp accepts it too");
            assertAccepts(vector, want, design.keepAlive);
            break;
        }
        counts.byDesign++;
      });
    }
    const skipped = [...counts.skipped.values()].reduce((n, names) => n + names.length, 0);
    assert.equal(counts.agreed + counts.byDesign + skipped, vectors!.length);
    const lines = [
      `  llhttp ${
        vectors!.length
      } response vectors: ${counts.agreed} agreed, ${counts.byDesign} differ by design (checked), ${skipped} skipped`,
      ...[...BY_DESIGN].map(([name, d]) => `    by design, ${d.ours}: "${name}": ${d.why}`),
      ...[...counts.skipped].map(([why, names]) =>
        `    skipped ${names.length} (${why}; we parse strictly): ${
          names.map((n) => `"${n}"`).join(", ")
        }`
      ),
    ];
    console.log(lines.join("\n"));
  },
});
