import assert from "node:assert/strict";
import { encodeRequest } from "../../src/docker/http_request.ts";

Deno.test("encodeRequest() writes the head and body into one buffer", () => {
  const out = encodeRequest({
    method: "POST",
    path: "/v1.41/containers/create?name=x",
    headers: { "Content-Type": "application/json" },
    body: '{"Image":"é"}',
  });
  assert.equal(
    new TextDecoder().decode(out),
    "POST /v1.41/containers/create?name=x HTTP/1.1\r\nHost: docker\r\n" +
      "Content-Type: application/json\r\nContent-Length: 14\r\n\r\n" + '{"Image":"é"}',
  );
});

Deno.test("encodeRequest() sends Content-Length: 0 on a POST without body, none on a GET", () => {
  const post = new TextDecoder().decode(encodeRequest({ method: "POST", path: "/a/start" }));
  assert.equal(post, "POST /a/start HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n");
  const get = new TextDecoder().decode(
    encodeRequest({ method: "GET", path: "/_ping", host: "h:1" }),
  );
  assert.equal(get, "GET /_ping HTTP/1.1\r\nHost: h:1\r\n\r\n");
});

Deno.test("encodeRequest() rejects input that would break the framing", () => {
  assert.throws(() => encodeRequest({ method: "GET", path: "/a b" }), TypeError);
  assert.throws(() => encodeRequest({ method: "GET", path: "/a\r\nX: y" }), TypeError);
  assert.throws(() => encodeRequest({ method: "G T", path: "/" }), TypeError);
  assert.throws(
    () => encodeRequest({ method: "GET", path: "/", headers: { "X-A": "1\r\nX-B: 2" } }),
    TypeError,
  );
  assert.throws(
    () => encodeRequest({ method: "GET", path: "/", headers: { "X A": "1" } }),
    TypeError,
  );
  assert.throws(() => encodeRequest({ method: "GET", path: "/", host: "a\nb" }), TypeError);
});
