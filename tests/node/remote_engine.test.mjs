// The Docker client on Node.js against an engine over TLS (node:tls) and over
// ssh (node:child_process), from the bundle `deno bundle --platform node` makes
// of src/docker/mod.ts. Started by tests/integration/docker_tls_test.ts and
// docker_ssh_test.ts, which pass the bundle and the endpoints in env vars; the
// test whose endpoint is not given is skipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";

const lib = await import(process.env.FLAME_DOCKER_BUNDLE);
const tlsEndpoint = process.env.FLAME_TLS_ENDPOINT && JSON.parse(process.env.FLAME_TLS_ENDPOINT);
const otherCa = process.env.FLAME_TLS_OTHER_CA;
const sshEndpoint = process.env.FLAME_SSH_ENDPOINT && JSON.parse(process.env.FLAME_SSH_ENDPOINT);
const wrongKey = process.env.FLAME_SSH_WRONG_KEY;

/** Runs `fn` with a client on `endpoint`, closed afterwards. */
async function withClient(endpoint, fn) {
  const docker = new lib.DockerClient({ endpoint, timeout: 20_000 });
  try {
    await fn(docker);
  } finally {
    await docker.close();
  }
}

/** Pids of this process's `ssh` children (zombies included), from /proc. */
function sshChildren() {
  const pids = [];
  for (const name of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      if (comm === "ssh" && ppid === process.pid) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

test(
  "DockerClient reaches a --tlsverify engine through node:tls",
  { skip: !tlsEndpoint },
  async () => {
    await withClient(tlsEndpoint, async (docker) => {
      assert.ok((await docker.ping()).apiVersion);
      assert.deepEqual(await docker.containerList({ all: true }), []);
    });
    const { cert: _cert, key: _key, ...noClientCert } = tlsEndpoint.tls;
    await withClient({ ...tlsEndpoint, tls: noClientCert }, async (docker) => {
      await assert.rejects(docker.ping(), (e) => {
        assert.ok(e instanceof lib.DockerConnectionError, String(e));
        assert.match(e.message, /TLS: the engine refused the handshake/);
        assert.match(e.message, /no client certificate was given/);
        return true;
      });
    });
    await withClient(
      { ...tlsEndpoint, tls: { ...tlsEndpoint.tls, ca: otherCa } },
      async (docker) => {
        await assert.rejects(docker.ping(), (e) => {
          assert.ok(e instanceof lib.DockerConnectionError, String(e));
          assert.match(e.message, /TLS: the engine's certificate is not trusted/);
          assert.match(e.message, /ca\.pem/);
          return true;
        });
      },
    );
  },
);

test(
  "DockerClient reaches an engine over ssh through node:child_process",
  { skip: !sshEndpoint },
  async () => {
    await withClient(sshEndpoint, async (docker) => {
      await docker.ping();
      const version = await docker.version();
      assert.ok(version.ApiVersion);
      // Three at once: three ssh processes, kept by the pool.
      await Promise.all([docker.ping(), docker.ping(), docker.ping()]);
    });
    for (let i = 0; i < 150 && sshChildren().length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(sshChildren(), []);
    const began = performance.now();
    const wrong = { ...sshEndpoint, sshArgs: [...sshEndpoint.sshArgs.slice(0, -1), wrongKey] };
    await withClient(wrong, async (docker) => {
      await assert.rejects(docker.ping(), (e) => {
        assert.ok(e instanceof lib.DockerConnectionError, String(e));
        assert.match(e.message, /ssh exited with code 255 .*Permission denied \(publickey\)/);
        return true;
      });
    });
    assert.ok(performance.now() - began < 10_000);
  },
);
