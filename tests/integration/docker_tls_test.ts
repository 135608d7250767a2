/**
 * The Docker client against a real dockerd with `--tlsverify` (mutual TLS),
 * a second engine of the test's own (tests/_helpers/tls_engine.ts), on Deno
 * (Deno.connectTls, and node:tls for `verify: false`) and on Node.js
 * (node:tls). Each wrong setup a user can make gets an error naming TLS,
 * the endpoint, the certificate files and the fix.
 */

import assert from "node:assert/strict";
import {
  DockerClient,
  type DockerClientOptions,
  DockerConnectionError,
  DockerError,
} from "../../src/docker/mod.ts";
import type { SystemInfo } from "../../src/docker/types.ts";
import { ignoreWithoutTlsEngine, PlainForwarder, TlsEngine } from "../_helpers/tls_engine.ts";
import { nodeAvailable, runNodeRemoteTest } from "../_helpers/node_remote.ts";

/** Bounds every call, so a regression fails instead of hanging (no error here is a timeout). */
const CALL_TIMEOUT = 20_000;

async function withClient(
  options: DockerClientOptions,
  fn: (docker: DockerClient) => Promise<void>,
): Promise<void> {
  await using docker = new DockerClient({ timeout: CALL_TIMEOUT, ...options });
  await fn(docker);
}

/** An environment reader over `vars` only. */
const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

/** Writes `files` into a new directory under the engine's own (removed with it). */
async function certDir(
  engine: TlsEngine,
  name: string,
  files: Record<string, string>,
): Promise<string> {
  const dir = `${engine.dir}/${name}`;
  await Deno.mkdir(dir);
  for (const [file, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${file}`, text);
  }
  return dir;
}

Deno.test({
  name: "DockerClient reaches a --tlsverify dockerd over mutual TLS, and names each TLS mistake",
  ignore: ignoreWithoutTlsEngine,
  fn: async (t) => {
    await using engine = await TlsEngine.start();
    console.log(`  (the test's TLS dockerd answered in ${engine.startedIn} ms)`);
    const url = `tcp://127.0.0.1:${engine.port}`;
    const { ca, cert, key, otherCa } = engine.certs;

    await t.step(
      "a tls endpoint pings, reads the version and lists containers",
      () =>
        withClient({ endpoint: engine.endpoint() }, async (docker) => {
          assert.ok((await docker.ping()).apiVersion);
          assert.ok((await docker.version()).ApiVersion);
          assert.deepEqual(await docker.containerList({ all: true }), []);
          // The test's own engine, not the machine's.
          const info = await docker.info() as SystemInfo & { DockerRootDir: string };
          assert.equal(info.DockerRootDir, engine.dataRoot);
          // Requests on kept connections: the pool reuses the TLS connection.
          await Promise.all([docker.ping(), docker.ping()]);
          await docker.ping();
        }),
    );

    await t.step(
      "DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as with the docker CLI",
      () =>
        withClient({
          env: envOf({
            DOCKER_HOST: url,
            DOCKER_TLS_VERIFY: "1",
            DOCKER_CERT_PATH: engine.certs.dir,
          }),
        }, async (docker) => {
          assert.ok((await docker.ping()).apiVersion);
          assert.deepEqual(await docker.containerList({ all: true }), []);
        }),
    );

    await t.step(
      "a CA that did not sign the engine's certificate: the error names ca.pem",
      async () => {
        const dir = await certDir(engine, "wrong-ca", {
          "ca.pem": otherCa,
          "cert.pem": cert,
          "key.pem": key,
        });
        await withClient({
          env: envOf({ DOCKER_HOST: url, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir }),
        }, async (docker) => {
          const error = await docker.ping().catch((e) => e);
          assert.ok(error instanceof DockerConnectionError, String(error));
          assert.match(error.message, new RegExp(`tried "tcp://127\\.0\\.0\\.1:${engine.port}`));
          assert.match(error.message, /TLS: the engine's certificate is not trusted \(/);
          assert.ok(error.message.includes(`checked against "${dir}/ca.pem"`), error.message);
          assert.match(error.message, /DOCKER_CERT_PATH as ca\.pem/);
        });
      },
    );

    await t.step(
      "no client certificate: the error names TLS and cert.pem, not a reset",
      async () => {
        const dir = await certDir(engine, "ca-only", { "ca.pem": ca });
        for (
          const options of [
            { env: envOf({ DOCKER_HOST: url, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir }) },
            { endpoint: engine.endpoint({ verify: true, ca, source: dir }) },
          ] as DockerClientOptions[]
        ) {
          await withClient(options, async (docker) => {
            const error = await docker.ping().catch((e) => e);
            assert.ok(error instanceof DockerConnectionError, String(error));
            assert.match(error.message, new RegExp(`tried "tcp://127\\.0\\.0\\.1:${engine.port}`));
            assert.match(
              error.message,
              /\(TLS: the engine (refused the handshake|closed the connection)/,
            );
            assert.match(error.message, /no client certificate was given/);
            assert.ok(error.message.includes(`DOCKER_CERT_PATH ("${dir}")`), error.message);
          });
        }
      },
    );

    await t.step(
      "plain HTTP to the TLS port: the error says to set DOCKER_TLS_VERIFY",
      () =>
        withClient(
          { endpoint: { transport: "tcp", hostname: "127.0.0.1", port: engine.port } },
          async (docker) => {
            const error = await docker.ping().catch((e) => e);
            assert.ok(error instanceof DockerError, String(error));
            assert.equal(error.status, 400);
            assert.match(error.message, /Client sent an HTTP request to an HTTPS server/);
            assert.match(error.message, /DOCKER_TLS_VERIFY=1/);
          },
        ),
    );

    await t.step("TLS to a plain HTTP port: the error says the port is not TLS", async () => {
      await using plain = new PlainForwarder(engine.socket);
      await withClient({
        endpoint: engine.endpoint(engine.tls, plain.port),
      }, async (docker) => {
        const error = await docker.ping().catch((e) => e);
        assert.ok(error instanceof DockerConnectionError, String(error));
        assert.match(error.message, /TLS: the engine does not answer in TLS/);
        assert.match(error.message, /unset DOCKER_TLS_VERIFY/);
      });
    });

    await t.step(
      "tls.verify false: no CA needed, the client certificate is still sent",
      () =>
        withClient({
          endpoint: engine.endpoint({ verify: false, cert, key }),
        }, async (docker) => {
          assert.ok((await docker.ping()).apiVersion);
          assert.deepEqual(await docker.containerList({ all: true }), []);
        }),
    );

    await t.step({
      name: "Node.js: the same through node:tls",
      ignore: !nodeAvailable,
      fn: () =>
        runNodeRemoteTest({
          FLAME_TLS_ENDPOINT: JSON.stringify(engine.endpoint()),
          FLAME_TLS_OTHER_CA: otherCa,
        }, 1),
    });
  },
});
