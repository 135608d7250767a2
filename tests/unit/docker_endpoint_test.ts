import assert from "node:assert/strict";
import {
  discoverDockerEndpoint,
  DockerConnectionError,
  type DockerEndpoint,
  dockerEndpointCandidates,
  formatDockerEndpoint,
  parseDockerHost,
} from "../../src/docker/mod.ts";

function envOf(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => vars[name];
}

Deno.test("parseDockerHost() reads unix, tcp and bare paths", () => {
  assert.deepEqual(parseDockerHost("unix:///run/docker.sock"), {
    transport: "unix",
    path: "/run/docker.sock",
  });
  assert.deepEqual(parseDockerHost("/tmp/d.sock"), { transport: "unix", path: "/tmp/d.sock" });
  assert.deepEqual(parseDockerHost("tcp://127.0.0.1:2376"), {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 2376,
  });
  assert.deepEqual(parseDockerHost("tcp://docker"), {
    transport: "tcp",
    hostname: "docker",
    port: 2375,
  });
  assert.deepEqual(parseDockerHost("tcp://[::1]:1/"), {
    transport: "tcp",
    hostname: "::1",
    port: 1,
  });
  for (
    const bad of [
      "ssh://me@host",
      "npipe:////./pipe/docker",
      "unix://rel",
      "tcp://h:0",
      "tcp://h:x",
      "x",
    ]
  ) {
    assert.throws(() => parseDockerHost(bad), TypeError, bad);
  }
});

Deno.test("formatDockerEndpoint() round-trips with parseDockerHost()", () => {
  for (const value of ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2375", "tcp://[::1]:2375"]) {
    assert.equal(formatDockerEndpoint(parseDockerHost(value)), value);
  }
});

Deno.test("dockerEndpointCandidates() takes the option, else DOCKER_HOST, else the usual sockets", () => {
  const env = envOf({ DOCKER_HOST: "tcp://127.0.0.1:2375", XDG_RUNTIME_DIR: "/run/user/1000/" });
  const list = (options: Parameters<typeof dockerEndpointCandidates>[0]) =>
    dockerEndpointCandidates(options).map((c) => [c.source, c.value]);
  assert.deepEqual(list({ socketPath: "/opt/d.sock", env }), [["option", "/opt/d.sock"]]);
  assert.deepEqual(list({ env }), [["DOCKER_HOST", "tcp://127.0.0.1:2375"]]);
  assert.deepEqual(
    list({ socketPath: "", env: envOf({ DOCKER_HOST: "", XDG_RUNTIME_DIR: "/run/user/1000/" }) }),
    [
      ["XDG_RUNTIME_DIR", "/run/user/1000/docker.sock"],
      ["default", "/var/run/docker.sock"],
    ],
  );
  assert.deepEqual(list({ env: envOf({}) }), [["default", "/var/run/docker.sock"]]);
  // A relative runtime dir is ignored; a runtime dir holding the default is tried once.
  assert.deepEqual(list({ env: envOf({ XDG_RUNTIME_DIR: "relative" }) }), [[
    "default",
    "/var/run/docker.sock",
  ]]);
  assert.deepEqual(list({ env: envOf({ XDG_RUNTIME_DIR: "/var/run" }) }), [
    ["XDG_RUNTIME_DIR", "/var/run/docker.sock"],
  ]);
  // An unusable value is kept, with its problem, so the error can name it.
  const [unusable] = dockerEndpointCandidates({ env: envOf({ DOCKER_HOST: "ssh://h" }) });
  assert.equal(unusable?.endpoint, undefined);
  assert.match(unusable!.problem!, /only unix:\/\/ and tcp:\/\/ are supported/);
});

Deno.test("dockerEndpointCandidates() reads the real environment by default", () => {
  const candidates = dockerEndpointCandidates();
  assert.ok(candidates.length >= 1);
  if (Deno.env.get("DOCKER_HOST") === undefined) {
    assert.equal(candidates.at(-1)?.value, "/var/run/docker.sock");
  }
});

Deno.test("discoverDockerEndpoint() falls back from the rootless socket to the default one", async () => {
  const tried: string[] = [];
  const found = await discoverDockerEndpoint({
    env: envOf({ XDG_RUNTIME_DIR: "/run/user/7" }),
    probe: (endpoint: DockerEndpoint) => {
      tried.push(formatDockerEndpoint(endpoint));
      if (tried.length === 1) return Promise.reject(new Deno.errors.NotFound("gone"));
      return Promise.resolve(tried.length);
    },
  });
  assert.deepEqual(tried, ["unix:///run/user/7/docker.sock", "unix:///var/run/docker.sock"]);
  assert.deepEqual(found, {
    endpoint: { transport: "unix", path: "/var/run/docker.sock" },
    probed: 2,
  });
});

Deno.test("discoverDockerEndpoint() never falls back from a configured endpoint", async () => {
  for (
    const options of [{ socketPath: "/opt/d.sock" }, {
      env: envOf({ DOCKER_HOST: "tcp://127.0.0.1:1" }),
    }]
  ) {
    const tried: string[] = [];
    const error = await discoverDockerEndpoint({
      env: envOf({}),
      ...options,
      probe: (endpoint) => {
        tried.push(formatDockerEndpoint(endpoint));
        return Promise.reject(new Deno.errors.ConnectionRefused("ECONNREFUSED"));
      },
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof DockerConnectionError);
    assert.equal(tried.length, 1);
    assert.deepEqual(error.attempts.map((a) => a.reason), ["refused"]);
  }
});

Deno.test("discoverDockerEndpoint() names every endpoint tried and why it failed", async () => {
  const failures: Record<string, Error> = {
    "unix:///run/user/1/docker.sock": new Deno.errors.PermissionDenied("EACCES"),
    "unix:///var/run/docker.sock": new Deno.errors.NotFound("ENOENT"),
  };
  const error = await discoverDockerEndpoint({
    env: envOf({ XDG_RUNTIME_DIR: "/run/user/1" }),
    probe: (endpoint) => Promise.reject(failures[formatDockerEndpoint(endpoint)]),
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof DockerConnectionError);
  assert.deepEqual(error.attempts, [
    { endpoint: "unix:///run/user/1/docker.sock", reason: "permission denied" },
    { endpoint: "unix:///var/run/docker.sock", reason: "missing" },
  ]);
  assert.equal(
    error.message,
    'Cannot connect to the Docker engine: tried "unix:///run/user/1/docker.sock" (permission denied), ' +
      '"unix:///var/run/docker.sock" (missing)',
  );
  assert.equal(error.cause, failures["unix:///var/run/docker.sock"]);
  const other = await discoverDockerEndpoint({
    env: envOf({ DOCKER_HOST: "ssh://h" }),
    probe: () => Promise.resolve(),
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(other instanceof DockerConnectionError);
  assert.match(other.attempts[0]!.reason, /only unix:\/\/ and tcp:\/\/ are supported/);
});

Deno.test("discoverDockerEndpoint() reports real missing and refused sockets", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/not-a-socket`, "");
    const reasons = [];
    for (const path of [`${dir}/nothing.sock`, `${dir}/not-a-socket`]) {
      const error = await discoverDockerEndpoint({
        socketPath: path,
        probe: async (endpoint) => {
          assert.equal(endpoint.transport, "unix");
          if (endpoint.transport === "unix") {
            (await Deno.connect({ transport: "unix", path: endpoint.path })).close();
          }
        },
      }).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof DockerConnectionError);
      reasons.push(error.attempts[0]?.reason);
    }
    assert.deepEqual(reasons, ["missing", "refused"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
