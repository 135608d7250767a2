/**
 * connectTls() and tlsErrorKind(): argument checks, the handshake timeout
 * and abort (against a loopback listener that never answers), and a real
 * handshake with a `Deno.listenTls` server using certificates made by
 * `openssl`, on Deno's TLS and on `node:tls` (used when `verify` is off).
 */

import assert from "node:assert/strict";
import { connectTls, type Socket, tlsErrorKind } from "../../src/transport.ts";
import { DOCKER_REQUIRED } from "../_helpers/docker.ts";
import { makeCertificates, opensslAvailable } from "../_helpers/tls_engine.ts";

Deno.test("tlsErrorKind() names rustls and OpenSSL failures alike", () => {
  const coded = (code: string) => Object.assign(new Error("x"), { code });
  const cases: [unknown, string | undefined][] = [
    [new Error("invalid peer certificate: UnknownIssuer"), "untrusted"],
    [new Error("invalid peer certificate: Expired"), "untrusted"],
    [new Error("invalid peer certificate: NotValidForName"), "wrong-name"],
    [new Error("received fatal alert: BadCertificate"), "rejected"],
    [new Error("received fatal alert: CertificateRequired"), "rejected"],
    [new Error("received corrupt message of type InvalidContentType"), "not-tls"],
    [coded("UNABLE_TO_VERIFY_LEAF_SIGNATURE"), "untrusted"],
    [coded("SELF_SIGNED_CERT_IN_CHAIN"), "untrusted"],
    [coded("ERR_TLS_CERT_ALTNAME_INVALID"), "wrong-name"],
    [coded("ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE"), "rejected"],
    [coded("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED"), "rejected"],
    [coded("ERR_SSL_WRONG_VERSION_NUMBER"), "not-tls"],
    [coded("ERR_TLS_HANDSHAKE_TIMEOUT"), "silent"],
    [coded("ECONNRESET"), undefined],
    [new Deno.errors.ConnectionRefused("refused"), undefined],
    ["a string", undefined],
  ];
  for (const [error, kind] of cases) assert.equal(tlsErrorKind(error), kind, String(error));
});

Deno.test("connectTls() checks its options before dialing", async () => {
  await assert.rejects(
    connectTls("127.0.0.1", 1, { key: "-----BEGIN PRIVATE KEY-----" }),
    (e) => e instanceof TypeError && /needs its key/.test(e.message),
  );
  await assert.rejects(connectTls("127.0.0.1", 1, { handshakeTimeout: 0 }), RangeError);
  await assert.rejects(
    connectTls("127.0.0.1", 1, { signal: AbortSignal.abort(new Error("stop")) }),
    /stop/,
  );
});

/** A loopback listener that accepts and never says a word; closed with everything it accepted. */
async function withSilentListener(fn: (port: number) => Promise<void>): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) accepted.push(conn);
    } catch {
      // Closed.
    }
  })();
  try {
    await fn(listener.addr.port);
  } finally {
    listener.close();
    await accepting;
    for (const conn of accepted) conn.close();
  }
}

for (const verify of [true, false]) {
  const via = verify ? "Deno.connectTls" : "node:tls";
  Deno.test(`connectTls() (${via}) gives up on a silent peer after handshakeTimeout`, () =>
    withSilentListener(async (port) => {
      const began = performance.now();
      const error = await connectTls("127.0.0.1", port, { verify, handshakeTimeout: 300 })
        .catch((e) => e);
      assert.equal(tlsErrorKind(error), "silent", String(error));
      assert.match(
        error.message,
        /TLS handshake with "127\.0\.0\.1:\d+" got no answer within 300 ms/,
      );
      assert.ok(performance.now() - began < 3000);
    }));

  Deno.test(`connectTls() (${via}) stops when its signal aborts`, () =>
    withSilentListener(async (port) => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error("caller gave up")), 100);
      await assert.rejects(
        connectTls("127.0.0.1", port, { verify, signal: controller.signal }),
        /caller gave up/,
      );
    }));
}

/** A TLS echo server on loopback with the test certificates; closed with its connections. */
async function withTlsEcho(
  fn: (port: number, certs: Awaited<ReturnType<typeof makeCertificates>>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flame-tls-unit-" });
  try {
    const certs = await makeCertificates(dir);
    const listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(`${dir}/server-cert.pem`),
      key: await Deno.readTextFile(`${dir}/server-key.pem`),
    });
    const conns: Deno.TlsConn[] = [];
    const serving = (async () => {
      try {
        for await (const conn of listener) {
          conns.push(conn);
          (async () => {
            const buf = new Uint8Array(1024);
            for (;;) {
              const n = await conn.read(buf);
              if (n === null) break;
              await conn.write(buf.subarray(0, n));
            }
          })().catch(() => {});
        }
      } catch {
        // Closed.
      }
    })();
    try {
      await fn(listener.addr.port, certs);
    } finally {
      listener.close();
      await serving;
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed by the peer.
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function echo(socket: Socket, text: string): Promise<string> {
  await socket.write(new TextEncoder().encode(text));
  const buf = new Uint8Array(64);
  const n = await socket.read(buf);
  return new TextDecoder().decode(buf.subarray(0, n ?? 0));
}

Deno.test({
  name: "connectTls() verifies against the given CA, on Deno's TLS and on node:tls",
  ignore: !opensslAvailable && !DOCKER_REQUIRED,
  fn: () =>
    withTlsEcho(async (port, certs) => {
      for (const hostname of ["127.0.0.1", "localhost"]) {
        const socket = await connectTls(hostname, port, { caCerts: [certs.ca] });
        try {
          assert.equal(await echo(socket, `hello ${hostname}`), `hello ${hostname}`);
        } finally {
          socket.close();
        }
      }
      const unverified = await connectTls("127.0.0.1", port, { verify: false });
      try {
        assert.equal(await echo(unverified, "unverified"), "unverified");
      } finally {
        unverified.close();
      }
      const error = await connectTls("127.0.0.1", port, { caCerts: [certs.otherCa] })
        .catch((e) => e);
      assert.equal(tlsErrorKind(error), "untrusted", String(error));
    }),
});
