/**
 * FLAME_PARENT: round trip, and a TypeError naming the field for every malformed value.
 */

import assert from "node:assert/strict";
import {
  decodeParentEnv,
  encodeParentEnv,
  type ParentEnv,
  PROTOCOL_VERSION,
} from "../../src/protocol/parent_env.ts";
import { generateSecret } from "../../src/protocol/handshake.ts";
import { encodeBase64Url } from "../../src/util/base64url.ts";

const GOOD: ParentEnv = {
  v: PROTOCOL_VERSION,
  host: "172.18.0.1",
  port: 40123,
  id: "thumbs-r1",
  secret: generateSecret(),
  connectTimeout: 30_000,
  heartbeatInterval: 1000,
  heartbeatTimeout: 5000,
  idleTimeout: 65_000,
};

/** Encodes GOOD with `patch` applied (`undefined` deletes a field). */
function withField(patch: Record<string, unknown>): string {
  const o: Record<string, unknown> = { ...GOOD };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete o[k];
    else o[k] = v;
  }
  return encodeBase64Url(JSON.stringify(o));
}

function rejects(text: string, pattern: RegExp, what: string): void {
  assert.throws(
    () => decodeParentEnv(text),
    (err) => {
      assert.ok(err instanceof TypeError, `${what}: expected a TypeError, got ${err}`);
      assert.match(err.message, /^Invalid FLAME_PARENT: /, what);
      assert.match(err.message, pattern, what);
      assert.ok(!err.message.includes(GOOD.secret), `${what}: the message leaks the secret`);
      return true;
    },
  );
}

Deno.test("decodeParentEnv() round-trips encodeParentEnv()", () => {
  assert.deepEqual(decodeParentEnv(encodeParentEnv(GOOD)), GOOD);
  const noIdle = { ...GOOD, idleTimeout: null };
  assert.deepEqual(decodeParentEnv(encodeParentEnv(noIdle)), noIdle);
  assert.deepEqual(decodeParentEnv(` ${encodeParentEnv(GOOD)}\n`), GOOD);
  assert.match(encodeParentEnv(GOOD), /^[A-Za-z0-9_-]+$/);
});

Deno.test("decodeParentEnv() treats a missing idleTimeout as never", () => {
  assert.equal(decodeParentEnv(withField({ idleTimeout: undefined })).idleTimeout, null);
});

Deno.test("decodeParentEnv() rejects an empty value", () => {
  rejects("", /empty/, "empty");
  rejects("   \n", /empty/, "blank");
});

Deno.test("decodeParentEnv() rejects text that is not base64url JSON", () => {
  rejects("not base64url!", /not base64url-encoded JSON/, "bad alphabet");
  rejects("abcde", /not base64url-encoded JSON/, "bad length");
  rejects(encodeBase64Url("{not json"), /not base64url-encoded JSON/, "not JSON");
  rejects(encodeBase64Url(new Uint8Array([0xff, 0xfe, 0x7b])), /not base64url/, "not UTF-8");
  // Standard base64 of the same JSON uses "+" or "/" for some inputs and "=" padding.
  rejects(btoa(JSON.stringify({ ...GOOD, host: "a>?" })), /not base64url/, "standard base64");
});

Deno.test("decodeParentEnv() rejects JSON that is not an object", () => {
  for (const v of ["null", "[]", "42", '"text"', "true"]) {
    rejects(encodeBase64Url(v), /not a JSON object/, v);
  }
});

Deno.test("decodeParentEnv() rejects another protocol version, naming it", () => {
  rejects(withField({ v: 1 }), /version 1 is not supported \(this runner speaks 2\)/, "v 1");
  rejects(withField({ v: "2" }), /version "2" is not supported/, "v string");
  rejects(withField({ v: undefined }), /version undefined is not supported/, "v missing");
});

const BAD_FIELDS: [field: string, values: unknown[]][] = [
  ["host", ["", 42, null, undefined, ["h"]]],
  ["port", [0, -1, 65536, 80.5, "4000", null, undefined, NaN]],
  ["id", ["", "x".repeat(129), 7, null, undefined]],
  ["secret", ["", "c2hvcnQ", "not base64url!", 16, null, undefined]],
  ["connectTimeout", [0, -5, "100", null, undefined, 1e400]],
  ["heartbeatInterval", [0, -1, "1000", null, undefined]],
  ["heartbeatTimeout", [0, -1, false, null, undefined]],
  ["idleTimeout", [0, -1, "60000", true]],
];

for (const [field, values] of BAD_FIELDS) {
  Deno.test(`decodeParentEnv() rejects a bad "${field}" with a TypeError naming it`, () => {
    for (const value of values) {
      rejects(withField({ [field]: value }), new RegExp(`"${field}"`), `${field}=${value}`);
    }
  });
}

Deno.test("decodeParentEnv() accepts the boundary values", () => {
  const env = decodeParentEnv(
    withField({ port: 65535, id: "x".repeat(128), secret: encodeBase64Url(new Uint8Array(16)) }),
  );
  assert.equal(env.port, 65535);
  assert.equal(decodeParentEnv(withField({ port: 1 })).port, 1);
});
