/**
 * How HttpConnection words a failure on a TLS or ssh endpoint: fake sockets
 * fail as Deno's TLS, Node's TLS and an exiting `ssh` do, and the error the
 * caller sees names TLS (or ssh), the certificate files and the fix, never
 * a bare "connection reset" or a protocol error. Also sshArguments().
 */

import assert from "node:assert/strict";
import { sshArguments } from "../../src/docker/_remote.ts";
import { HttpConnection } from "../../src/docker/connection.ts";
import type { DockerEndpoint } from "../../src/docker/endpoint.ts";
import { DockerConnectionError } from "../../src/docker/errors.ts";
import { encodeRequest } from "../../src/docker/http_request.ts";
import { ProcessExitError } from "../../src/process_socket.ts";
import type { Socket } from "../../src/transport.ts";

/** A socket that takes every write and answers the first read with `read()`. */
function fakeSocket(read: () => Promise<number | null>): Socket {
  return { read, write: (p) => Promise.resolve(p.length), close: () => {} };
}

async function ping(socket: Socket, endpoint: DockerEndpoint): Promise<unknown> {
  const conn = new HttpConnection(socket, endpoint);
  try {
    await conn.send(encodeRequest({ method: "GET", path: "/_ping" }), {
      method: "GET",
      maxHeaderSize: 65536,
    });
    return undefined;
  } catch (error) {
    return error;
  } finally {
    conn.close();
  }
}

const tlsEndpoint = (tls: { cert?: string; source?: string } = {}): DockerEndpoint => ({
  transport: "tcp",
  hostname: "127.0.0.1",
  port: 2376,
  tls: { verify: true, ca: "CA", ...tls },
});

Deno.test("HttpConnection: a TLS alert on the first read names TLS and the missing client certificate", async () => {
  const error = await ping(
    fakeSocket(() => Promise.reject(new Error("received fatal alert: BadCertificate"))),
    tlsEndpoint({ source: "/home/me/.docker" }),
  );
  assert.ok(error instanceof DockerConnectionError, String(error));
  assert.match(
    error.message,
    /^Cannot connect to the Docker engine: tried "tcp:\/\/127\.0\.0\.1:2376/,
  );
  assert.match(
    error.message,
    /TLS: the engine refused the handshake \(received fatal alert: BadCertificate\)/,
  );
  assert.match(error.message, /no client certificate was given/);
  assert.match(
    error.message,
    /cert\.pem and key\.pem .* in DOCKER_CERT_PATH \("\/home\/me\/\.docker"\)/,
  );
});

Deno.test("HttpConnection: OpenSSL's alert (Node) names the client certificate that was refused", async () => {
  const alert = Object.assign(
    new Error("80FC:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate"),
    { code: "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE", reason: "sslv3 alert bad certificate" },
  );
  const error = await ping(
    fakeSocket(() => Promise.reject(alert)),
    tlsEndpoint({ cert: "CERT", source: "/certs" }),
  );
  assert.ok(error instanceof DockerConnectionError);
  assert.match(error.message, /refused the handshake \(sslv3 alert bad certificate\)/);
  assert.match(
    error.message,
    /the client certificate "\/certs\/cert\.pem" is not signed by the CA the engine trusts/,
  );
});

Deno.test("HttpConnection: a reset or end before any byte on a fresh TLS connection names TLS, not a reset", async () => {
  const reset = await ping(
    fakeSocket(() => Promise.reject(new Deno.errors.ConnectionReset("Connection reset by peer"))),
    tlsEndpoint(),
  );
  const ended = await ping(fakeSocket(() => Promise.resolve(null)), tlsEndpoint());
  for (const error of [reset, ended]) {
    assert.ok(error instanceof DockerConnectionError, String(error));
    assert.match(error.message, /TLS: the engine closed the connection before answering/);
    assert.match(error.message, /as it does when it refuses the client certificate/);
  }
});

Deno.test("HttpConnection: a reset on a plain TCP endpoint stays a plain connection error", async () => {
  const error = await ping(
    fakeSocket(() => Promise.reject(new Deno.errors.ConnectionReset("Connection reset by peer"))),
    { transport: "tcp", hostname: "127.0.0.1", port: 2375 },
  );
  assert.ok(error instanceof DockerConnectionError);
  assert.doesNotMatch(error.message, /TLS/);
  assert.match(error.message, /Connection reset by peer/);
});

const sshEndpoint: DockerEndpoint = {
  transport: "ssh",
  user: "deploy",
  hostname: "build-1",
  port: 2222,
};

Deno.test("HttpConnection: ssh exiting 255 names ssh's own words and the command to try", async () => {
  const exit = new ProcessExitError(
    "ssh",
    { code: 255, signal: null },
    "deploy@build-1: Permission denied (publickey).\n",
  );
  const error = await ping(fakeSocket(() => Promise.reject(exit)), sshEndpoint);
  assert.ok(error instanceof DockerConnectionError, String(error));
  assert.match(
    error.message,
    /ssh exited with code 255 before the engine answered \(deploy@build-1: Permission denied \(publickey\)\.\)/,
  );
  assert.match(
    error.message,
    /"ssh -o BatchMode=yes -o ConnectTimeout=30 -T -l deploy -p 2222 -- build-1 docker system dial-stdio" works from a shell/,
  );
  assert.match(error.message, /BatchMode is on/);
});

Deno.test("HttpConnection: ssh reaching nothing, or no docker on the remote, says what to fix", async () => {
  const unreachable = await ping(
    fakeSocket(() =>
      Promise.reject(
        new ProcessExitError(
          "ssh",
          { code: 255, signal: null },
          "ssh: connect to host build-1 port 2222: Connection refused\n",
        ),
      )
    ),
    sshEndpoint,
  );
  assert.match(String(unreachable), /check the host name and port, and that sshd runs there/);
  const noDocker = await ping(
    fakeSocket(() =>
      Promise.reject(
        new ProcessExitError(
          "ssh",
          { code: 127, signal: null },
          "bash: line 1: docker: command not found\n",
        ),
      )
    ),
    sshEndpoint,
  );
  assert.match(String(noDocker), /ssh exited with code 127 .*docker: command not found/);
  assert.match(String(noDocker), /install the docker CLI on "build-1"/);
});

Deno.test("sshArguments() puts the caller's arguments first, then BatchMode, user, port and dial-stdio", () => {
  assert.deepEqual(
    sshArguments({ transport: "ssh", hostname: "h", sshArgs: ["-i", "/k", "-o", "BatchMode=no"] }),
    [
      "-i",
      "/k",
      "-o",
      "BatchMode=no",
      "-o",
      "BatchMode=yes",
      "-o",
      "ConnectTimeout=30",
      "-T",
      "--",
      "h",
      "docker",
      "system",
      "dial-stdio",
    ],
  );
  assert.throws(() => sshArguments({ transport: "ssh", hostname: "" }), TypeError);
});
