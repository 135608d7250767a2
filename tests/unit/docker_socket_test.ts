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

Deno.test("dockerEndpointCandidates() orders option, DOCKER_HOST, XDG_RUNTIME_DIR, default", () => {
  const env = envOf({ DOCKER_HOST: "tcp://127.0.0.1:2375", XDG_RUNTIME_DIR: "/run/user/1000/" });
  assert.deepEqual(
    dockerEndpointCandidates({ socketPath: "/opt/d.sock", env }).map((c) => [c.source, c.value]),
    [
      ["option", "/opt/d.sock"],
      ["DOCKER_HOST", "tcp://127.0.0.1:2375"],
      ["XDG_RUNTIME_DIR", "/run/user/1000/docker.sock"],
      ["default", "/var/run/docker.sock"],
    ],
  );
  assert.deepEqual(
    dockerEndpointCandidates({ env: envOf({}) }).map((c) => c.value),
    ["/var/run/docker.sock"],
  );
  // Duplicates are tried once; an unusable value is kept, with its problem.
  const candidates = dockerEndpointCandidates({
    socketPath: "unix:///var/run/docker.sock",
    env: envOf({ DOCKER_HOST: "ssh://h", XDG_RUNTIME_DIR: "relative" }),
  });
  assert.deepEqual(candidates.map((c) => c.value), [
    "unix:///var/run/docker.sock",
    "ssh://h",
    "/var/run/docker.sock",
  ]);
  assert.match(candidates[1]!.problem!, /only unix:\/\/ and tcp:\/\/ are supported/);
});

Deno.test("discoverDockerEndpoint() takes the first endpoint whose probe succeeds", async () => {
  const tried: string[] = [];
  const found = await discoverDockerEndpoint({
    env: envOf({ DOCKER_HOST: "unix:///missing.sock", XDG_RUNTIME_DIR: "/run/user/7" }),
    probe: (endpoint: DockerEndpoint) => {
      tried.push(formatDockerEndpoint(endpoint));
      if (tried.length === 1) return Promise.reject(new Deno.errors.NotFound("gone"));
      return Promise.resolve(tried.length);
    },
  });
  assert.deepEqual(tried, ["unix:///missing.sock", "unix:///run/user/7/docker.sock"]);
  assert.deepEqual(found, {
    endpoint: { transport: "unix", path: "/run/user/7/docker.sock" },
    probed: 2,
  });
});

Deno.test("discoverDockerEndpoint() names every endpoint tried and why it failed", async () => {
  const failures: Record<string, Error> = {
    "unix:///opt/d.sock": new Deno.errors.PermissionDenied("EACCES"),
    "tcp://127.0.0.1:1": new Deno.errors.ConnectionRefused("ECONNREFUSED"),
    "unix:///run/user/1/docker.sock": new Deno.errors.NotFound("ENOENT"),
    "unix:///var/run/docker.sock": new Error("Something else"),
  };
  const error = await discoverDockerEndpoint({
    socketPath: "/opt/d.sock",
    env: envOf({ DOCKER_HOST: "tcp://127.0.0.1:1", XDG_RUNTIME_DIR: "/run/user/1" }),
    probe: (endpoint) => Promise.reject(failures[formatDockerEndpoint(endpoint)]),
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof DockerConnectionError);
  assert.deepEqual(error.attempts, [
    { endpoint: "unix:///opt/d.sock", reason: "permission denied" },
    { endpoint: "tcp://127.0.0.1:1", reason: "refused" },
    { endpoint: "unix:///run/user/1/docker.sock", reason: "missing" },
    { endpoint: "unix:///var/run/docker.sock", reason: "Something else" },
  ]);
  assert.equal(
    error.message,
    'Cannot connect to the Docker engine: tried "unix:///opt/d.sock" (permission denied), ' +
      '"tcp://127.0.0.1:1" (refused), "unix:///run/user/1/docker.sock" (missing), ' +
      '"unix:///var/run/docker.sock" (Something else)',
  );
  assert.equal(error.cause, failures["unix:///var/run/docker.sock"]);
});

Deno.test("discoverDockerEndpoint() reports real missing and refused sockets", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/not-a-socket`, "");
    const error = await discoverDockerEndpoint({
      socketPath: `${dir}/nothing.sock`,
      env: envOf({ DOCKER_HOST: `unix://${dir}/not-a-socket` }),
      probe: async (endpoint) => {
        if (endpoint.transport !== "unix" || !endpoint.path.startsWith(dir)) {
          throw new Deno.errors.NotFound("outside the test");
        }
        (await Deno.connect({ transport: "unix", path: endpoint.path })).close();
      },
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof DockerConnectionError);
    assert.deepEqual(error.attempts.slice(0, 2).map((a) => a.reason), ["missing", "refused"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
