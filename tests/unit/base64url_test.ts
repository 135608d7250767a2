/**
 * base64url against the runtime's own `btoa`/`atob`.
 */

import assert from "node:assert/strict";
import { decodeBase64Url, encodeBase64Url } from "../../src/util/base64url.ts";
import { mulberry32 } from "../_helpers/prng.ts";

function viaBtoa(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

Deno.test("encodeBase64Url() matches btoa-derived text for random bytes of every length 0–300", () => {
  const seed = 20240611;
  const rand = mulberry32(seed);
  for (let len = 0; len <= 300; len++) {
    for (let rep = 0; rep < 5; rep++) {
      const bytes = new Uint8Array(len);
      for (let i = 0; i < len; i++) bytes[i] = Math.floor(rand() * 256);
      const expected = viaBtoa(bytes);
      assert.equal(encodeBase64Url(bytes), expected, `length ${len} (seed ${seed})`);
      assert.deepEqual(decodeBase64Url(expected), bytes, `length ${len} (seed ${seed})`);
    }
  }
});

Deno.test("encodeBase64Url() uses the URL alphabet and no padding", () => {
  assert.equal(encodeBase64Url(new Uint8Array([0xfb, 0xff, 0xbf])), "-_-_");
  assert.equal(encodeBase64Url(new Uint8Array([0xff])), "_w");
  assert.equal(encodeBase64Url(new Uint8Array([0xff, 0xfe])), "__4");
  assert.equal(encodeBase64Url(""), "");
  assert.equal(encodeBase64Url("é€"), viaBtoa(new TextEncoder().encode("é€")));
});

Deno.test("decodeBase64Url() accepts padded input", () => {
  assert.deepEqual(decodeBase64Url("_w=="), new Uint8Array([0xff]));
  assert.deepEqual(decodeBase64Url("__4="), new Uint8Array([0xff, 0xfe]));
});

Deno.test("decodeBase64Url() rejects characters outside the alphabet with a TypeError", () => {
  for (const bad of ["ab+c", "ab/c", "ab c", "a\u00e9bc", "ab.c", "ab\ncd", "YWJj!"]) {
    assert.throws(() => decodeBase64Url(bad), TypeError, JSON.stringify(bad));
  }
});

Deno.test("decodeBase64Url() rejects an impossible length with a TypeError", () => {
  for (const bad of ["a", "abcde", "abcdefghi"]) {
    assert.throws(() => decodeBase64Url(bad), /invalid length/, bad);
  }
});
