/**
 * Endpoint discovery on real directory trees: a temporary `HOME`,
 * `XDG_RUNTIME_DIR` and `DOCKER_CONFIG` with the files the docker CLI writes,
 * real unix sockets (a fake engine this test listens on, the machine's
 * engine, a TLS dockerd of the test's own), and the docker CLI itself
 * writing contexts where discovery reads them.
 */

import assert from "node:assert/strict";
import {
  discoverDockerEndpoint,
  DockerClient,
  DockerConnectionError,
  dockerEndpointCandidates,
  formatDockerEndpoint,
} from "../../src/docker/mod.ts";
import { connectEndpoint } from "../../src/docker/connection.ts";
import type { Logger } from "../../src/util/logger.ts";
import { FakeEngine } from "../fuzz/docker_fake_engine.ts";
import { DOCKER_SOCKET, ignoreWithoutDocker } from "../_helpers/docker.ts";
import {
  ignoreWithoutTlsEngine,
  makeCertificates,
  opensslAvailable,
  TlsEngine,
} from "../_helpers/tls_engine.ts";

const PING = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK";

const dockerCliAvailable = await new Deno.Command("docker", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
}).output().then((out) => out.success, () => false);

/** A temporary directory for `test`, removed afterwards even when it fails. */
async function withTree(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flame-endpoint-" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Writes a context as `docker context create` does: meta.json, and the TLS files if any. */
async function writeContext(
  configDir: string,
  name: string,
  host: string,
  options: { skipTlsVerify?: boolean; tls?: Record<string, string> } = {},
): Promise<void> {
  const id = await sha256(name);
  await Deno.mkdir(`${configDir}/contexts/meta/${id}`, { recursive: true });
  await Deno.writeTextFile(
    `${configDir}/contexts/meta/${id}/meta.json`,
    JSON.stringify({
      Name: name,
      Metadata: {},
      Endpoints: { docker: { Host: host, SkipTLSVerify: options.skipTlsVerify ?? false } },
    }),
  );
  if (options.tls !== undefined) {
    const tlsDir = `${configDir}/contexts/tls/${id}/docker`;
    await Deno.mkdir(tlsDir, { recursive: true, mode: 0o700 });
    for (const [file, text] of Object.entries(options.tls)) {
      await Deno.writeTextFile(`${tlsDir}/${file}`, text, { mode: 0o600 });
    }
  }
}

async function useContext(configDir: string, name: string): Promise<void> {
  await Deno.mkdir(configDir, { recursive: true });
  await Deno.writeTextFile(
    `${configDir}/config.json`,
    JSON.stringify({ auths: {}, currentContext: name }, null, "\t"),
  );
}

function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (msg: string) => lines.push(msg);
  return { lines, debug: push, info: push, warn: push, error: push };
}

Deno.test("DockerClient reaches the engine of the current context and of DOCKER_CONTEXT on a real tree", async () => {
  await using current = await FakeEngine.start(() => PING);
  await using named = await FakeEngine.start(() => PING);
  await withTree(async (home) => {
    const configDir = `${home}/.docker`;
    await writeContext(configDir, "flame-current", `unix://${current.path}`);
    await writeContext(configDir, "flame-named", `unix://${named.path}`);
    await useContext(configDir, "flame-current");
    const vars: Record<string, string> = { HOME: home, XDG_RUNTIME_DIR: `${home}/run` };

    const logger = captureLogger();
    {
      await using client = new DockerClient({ env: (name) => vars[name], logger });
      await client.ping();
      assert.deepEqual(client.endpoint, { transport: "unix", path: current.path });
      assert.deepEqual(client.endpointChoice, {
        endpoint: { transport: "unix", path: current.path },
        source: "context",
        origin: `context "flame-current" (current in ${configDir}/config.json)`,
        context: "flame-current",
        skipped: [],
      });
    }
    assert.equal(current.requests.length, 1);
    assert.deepEqual(logger.lines, [
      `Docker engine: unix://${current.path} (context "flame-current" (current in ${configDir}/config.json))`,
    ]);

    vars.DOCKER_CONTEXT = "flame-named";
    {
      await using client = new DockerClient({ env: (name) => vars[name] });
      await client.ping();
      assert.equal(client.endpointChoice?.source, "DOCKER_CONTEXT");
      assert.equal(client.endpointChoice?.context, "flame-named");
    }
    assert.equal(named.requests.length, 1);
    assert.equal(current.requests.length, 1, "DOCKER_CONTEXT wins over config.json");

    // The endpoint option wins over everything, and reads nothing.
    {
      await using client = new DockerClient({
        endpoint: { transport: "unix", path: named.path },
        env: () => {
          throw new Error("the endpoint option reads no environment");
        },
      });
      await client.ping();
      assert.equal(client.endpointChoice?.origin, "the endpoint option");
    }
  });
});

Deno.test("DockerClient fails naming a broken context on a real tree, never trying another engine", async () => {
  await withTree(async (home) => {
    const configDir = `${home}/docker-config`;
    const id = await sha256("flame-broken");
    await writeContext(configDir, "flame-broken", "unix:///var/run/docker.sock");
    await Deno.writeTextFile(`${configDir}/contexts/meta/${id}/meta.json`, '{"Name":');
    await writeContext(configDir, "flame-half-tls", "tcp://127.0.0.1:1", {
      tls: { "cert.pem": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n" },
    });
    await Deno.mkdir(`${home}/certs`);
    const cases: [Record<string, string>, RegExp][] = [
      [
        { DOCKER_CONTEXT: "flame-broken" },
        new RegExp(
          `^Cannot connect to the Docker engine: context "flame-broken" \\(DOCKER_CONTEXT\\): "${configDir}/contexts/meta/${id}/meta\\.json" is not valid JSON`,
        ),
      ],
      [
        { DOCKER_CONTEXT: "flame-missing" },
        /no such context .*docker context create flame-missing/,
      ],
      [{ DOCKER_CONTEXT: "flame-half-tls" }, /has cert\.pem but no key\.pem/],
      [
        {
          DOCKER_HOST: "tcp://127.0.0.1:1",
          DOCKER_TLS_VERIFY: "1",
          DOCKER_CERT_PATH: `${home}/certs`,
        },
        new RegExp(`DOCKER_HOST: DOCKER_TLS_VERIFY is set but "${home}/certs/ca\\.pem" is missing`),
      ],
    ];
    for (const [extra, message] of cases) {
      const vars: Record<string, string> = { HOME: home, DOCKER_CONFIG: configDir, ...extra };
      await using client = new DockerClient({ env: (name) => vars[name] });
      const error = await client.ping().catch((e) => e);
      assert.ok(error instanceof DockerConnectionError, String(error));
      assert.match(error.message, message);
      assert.equal(client.endpoint, undefined);
    }
  });
});

Deno.test("discovery on a real tree skips a stale rootless socket and settles on the next that answers", async () => {
  await using colima = await FakeEngine.start(() => PING);
  await withTree(async (dir) => {
    const home = `${dir}/home`;
    const runtimeDir = `${dir}/run`;
    await Deno.mkdir(`${home}/.colima/default`, { recursive: true });
    await Deno.mkdir(runtimeDir);
    // A stale socket file (nothing listens: connect is refused) and Colima's socket.
    await Deno.writeTextFile(`${runtimeDir}/docker.sock`, "");
    await Deno.symlink(colima.path, `${home}/.colima/default/docker.sock`);
    const vars: Record<string, string> = { HOME: home, XDG_RUNTIME_DIR: runtimeDir };
    const found = await discoverDockerEndpoint({
      env: (name) => vars[name],
      probe: async (endpoint) => {
        // This machine has /var/run/docker.sock: behave as one without it.
        if (endpoint.transport === "unix" && endpoint.path === "/var/run/docker.sock") {
          throw new Deno.errors.NotFound("No such file or directory (os error 2)");
        }
        (await connectEndpoint(endpoint)).close();
        return formatDockerEndpoint(endpoint);
      },
    });
    assert.equal(found.source, "colima");
    assert.equal(found.probed, `unix://${home}/.colima/default/docker.sock`);
    assert.deepEqual(found.skipped, [
      { endpoint: "unix:///var/run/docker.sock", reason: "missing" },
      { endpoint: `unix://${runtimeDir}/docker.sock`, reason: "refused" },
      { endpoint: `unix://${home}/.docker/run/docker.sock`, reason: "missing" },
      { endpoint: `unix://${home}/.docker/desktop/docker.sock`, reason: "missing" },
    ]);
  });
});

Deno.test({
  name: "[docker] a context pointing at the real engine: ping() and version() reach it",
  ignore: ignoreWithoutDocker,
  async fn() {
    await withTree(async (home) => {
      await writeContext(`${home}/.docker`, "flame-real", `unix://${DOCKER_SOCKET}`);
      await useContext(`${home}/.docker`, "flame-real");
      const logger = captureLogger();
      await using client = new DockerClient({
        env: (name) => ({ HOME: home } as Record<string, string>)[name],
        logger,
      });
      assert.match((await client.ping()).apiVersion ?? "", /^1\.\d+$/);
      assert.match((await client.version()).ApiVersion, /^1\.\d+$/);
      assert.equal(client.endpointChoice?.context, "flame-real");
      assert.deepEqual(client.endpoint, { transport: "unix", path: DOCKER_SOCKET });
      assert.equal(logger.lines.length, 1);
      assert.match(logger.lines[0]!, /context "flame-real"/);
    });
  },
});

/** Runs the docker CLI with its config in `configDir` (and nothing else of this machine's). */
async function dockerCli(configDir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("docker", {
    args,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: configDir,
      DOCKER_CONFIG: configDir,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`docker ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

Deno.test({
  name:
    "[docker CLI] docker context create and use write meta.json, TLS files and config.json where discovery reads them",
  ignore: !dockerCliAvailable || !opensslAvailable,
  async fn() {
    await using engine = await FakeEngine.start(() => PING);
    await withTree(async (dir) => {
      const configDir = `${dir}/config`;
      await Deno.mkdir(`${dir}/certs`);
      const certs = await makeCertificates(`${dir}/certs`);
      await dockerCli(
        configDir,
        "context",
        "create",
        "flame-unix",
        "--docker",
        `host=unix://${engine.path}`,
      );
      await dockerCli(
        configDir,
        "context",
        "create",
        "flame-tls",
        "--docker",
        `host=tcp://127.0.0.1:2376,ca=${certs.dir}/ca.pem,cert=${certs.dir}/cert.pem,key=${certs.dir}/key.pem`,
      );
      await dockerCli(
        configDir,
        "context",
        "create",
        "flame-skip",
        "--docker",
        "host=tcp://127.0.0.1:2376,skip-tls-verify=true",
      );
      await dockerCli(configDir, "context", "use", "flame-unix");
      const candidates = (vars: Record<string, string>) =>
        dockerEndpointCandidates({ env: (name) => ({ DOCKER_CONFIG: configDir, ...vars })[name] });

      assert.deepEqual(candidates({})[0]?.endpoint, { transport: "unix", path: engine.path });
      const tlsDir = `${configDir}/contexts/tls/${await sha256("flame-tls")}/docker`;
      assert.deepEqual(candidates({ DOCKER_CONTEXT: "flame-tls" })[0]?.endpoint, {
        transport: "tcp",
        hostname: "127.0.0.1",
        port: 2376,
        tls: { verify: true, ca: certs.ca, cert: certs.cert, key: certs.key, source: tlsDir },
      });
      const [skip] = candidates({ DOCKER_CONTEXT: "flame-skip" });
      assert.ok(skip?.endpoint?.transport === "tcp");
      assert.equal(skip.endpoint.tls?.verify, false);

      // The context `docker context use` made current takes the client to the engine.
      await using client = new DockerClient({
        env: (name) => ({ HOME: dir, DOCKER_CONFIG: configDir } as Record<string, string>)[name],
      });
      await client.ping();
      assert.equal(client.endpointChoice?.source, "context");
      assert.equal(client.endpointChoice?.context, "flame-unix");
      assert.equal(engine.requests.length, 1);
    });
  },
});

Deno.test({
  name:
    "[docker] DOCKER_TLS_VERIFY with DOCKER_CERT_PATH, and a TLS context, reach a dockerd with --tlsverify",
  ignore: ignoreWithoutTlsEngine,
  async fn() {
    await using engine = await TlsEngine.start();
    await withTree(async (home) => {
      const vars: Record<string, string> = {
        HOME: home,
        DOCKER_HOST: `tcp://127.0.0.1:${engine.port}`,
        DOCKER_TLS_VERIFY: "1",
        DOCKER_CERT_PATH: engine.certs.dir,
      };
      {
        await using client = new DockerClient({ env: (name) => vars[name] });
        assert.match((await client.ping()).apiVersion ?? "", /^1\.\d+$/);
        assert.equal(client.endpointChoice?.source, "DOCKER_HOST");
        assert.equal(
          formatDockerEndpoint(client.endpoint!),
          `tcp://127.0.0.1:${engine.port} (TLS)`,
        );
      }
      const { ca, cert, key } = engine.certs;
      await writeContext(`${home}/.docker`, "flame-tls", `tcp://127.0.0.1:${engine.port}`, {
        tls: { "ca.pem": ca, "cert.pem": cert, "key.pem": key },
      });
      const context: Record<string, string> = { HOME: home, DOCKER_CONTEXT: "flame-tls" };
      {
        await using client = new DockerClient({ env: (name) => context[name] });
        assert.match((await client.ping()).apiVersion ?? "", /^1\.\d+$/);
        assert.equal(client.endpointChoice?.context, "flame-tls");
      }
      // Without the client certificate the engine refuses: an error, not another engine.
      await writeContext(`${home}/.docker`, "flame-no-cert", `tcp://127.0.0.1:${engine.port}`, {
        tls: { "ca.pem": ca },
      });
      context.DOCKER_CONTEXT = "flame-no-cert";
      await using client = new DockerClient({ env: (name) => context[name] });
      const error = await client.ping().catch((e) => e);
      assert.ok(error instanceof DockerConnectionError, String(error));
      // TLS 1.3 reports the refused client certificate after the handshake, on the first
      // request: the message names the context's TLS directory, and nothing else was tried.
      assert.ok(
        error.message.includes(`contexts/tls/${await sha256("flame-no-cert")}/docker`),
        error.message,
      );
      assert.deepEqual(error.attempts.map((a) => a.endpoint), [
        `tcp://127.0.0.1:${engine.port} (TLS)`,
      ]);
    });
  },
});
