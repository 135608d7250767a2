import assert from "node:assert/strict";
import {
  DEFAULT_DOCKER_SOCKET,
  discoverDockerEndpoint,
  DockerClient,
  DockerConnectionError,
  type DockerEndpoint,
  type DockerEndpointCandidate,
  dockerEndpointCandidates,
  type DockerEndpointCandidatesOptions,
  formatDockerEndpoint,
  parseDockerHost,
} from "../../src/docker/mod.ts";
import { describeDockerEndpointChoice } from "../../src/docker/endpoint.ts";
import { sha256Hex } from "../../src/util/sha256.ts";

// Everything here runs on injected environments and file trees: no permissions needed.

const CA = "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nSECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----\n";

/** Options reading only `vars` and `files`; a file whose text is an Error throws it when read. */
function fake(
  vars: Record<string, string>,
  files: Record<string, string | Error> = {},
): DockerEndpointCandidatesOptions & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    env: (name) => vars[name],
    readTextFile: (path) => {
      reads.push(path);
      const file = files[path];
      if (file instanceof Error) throw file;
      return file;
    },
  };
}

/** What `docker context create` writes, keyed by path, for a context named `name`. */
async function contextFiles(
  configDir: string,
  name: string,
  docker: Record<string, unknown>,
  tls: Record<string, string> = {},
): Promise<Record<string, string>> {
  // The CLI's directory is the SHA-256 of the name: computed here with Web Crypto, not the code under test.
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(name)),
  );
  const id = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  const files: Record<string, string> = {
    [`${configDir}/contexts/meta/${id}/meta.json`]: JSON.stringify({
      Name: name,
      Metadata: {},
      Endpoints: { docker },
    }),
  };
  for (const [file, text] of Object.entries(tls)) {
    files[`${configDir}/contexts/tls/${id}/docker/${file}`] = text;
  }
  return files;
}

function summary(candidates: DockerEndpointCandidate[]): string[] {
  return candidates.map((c) =>
    `${c.source}${c.context === undefined ? "" : `[${c.context}]`} ${
      c.endpoint === undefined ? `! ${c.problem}` : formatDockerEndpoint(c.endpoint)
    }`
  );
}

Deno.test("sha256Hex() matches the directory names the docker CLI writes", () => {
  // Hashes of context names as `docker context create` (28.2) laid them out.
  assert.equal(sha256Hex("xx"), "5dde896887f6754c9b15bfe3a441ae4806df2fde94001311e08bf110622e0bbe");
  assert.equal(
    sha256Hex("nope"),
    "ca3704aa0b06f5954c79ee837faa152d84d6b2d42838f0637a15eda8337dbdce",
  );
  assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

Deno.test("sha256Hex() agrees with Web Crypto across block boundaries", async () => {
  for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
    const text = "é".repeat(length);
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
    );
    const expected = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(sha256Hex(text), expected, `length ${length}`);
  }
});

Deno.test("parseDockerHost() reads unix, tcp, ssh and bare paths", () => {
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
  assert.deepEqual(parseDockerHost("tcp://docker", { tls: { verify: true } }), {
    transport: "tcp",
    hostname: "docker",
    port: 2376,
    tls: { verify: true },
  });
  assert.deepEqual(parseDockerHost("unix:///d.sock", { tls: { verify: true } }), {
    transport: "unix",
    path: "/d.sock",
  });
  assert.deepEqual(parseDockerHost("tcp://[::1]:1/"), {
    transport: "tcp",
    hostname: "::1",
    port: 1,
  });
  assert.deepEqual(parseDockerHost("ssh://build-1"), { transport: "ssh", hostname: "build-1" });
  assert.deepEqual(parseDockerHost("ssh://me@[fd00::1]:2222/"), {
    transport: "ssh",
    user: "me",
    hostname: "fd00::1",
    port: 2222,
  });
  const bad: [string, RegExp][] = [
    ["npipe:////./pipe/docker", /only unix:\/\/, tcp:\/\/ and ssh:\/\/ are supported/],
    ["unix://rel", /must be absolute/],
    ["tcp://h:0", /expected tcp:\/\/host:port/],
    ["tcp://h:x", /expected tcp:\/\/host:port/],
    ["tcp://me@h:1", /expected tcp:\/\/host:port/],
    ["ssh://me:pw@h", /a password in the URL is not supported/],
    ["ssh://h/var/run/docker.sock", /a path after the host is not supported/],
    ["ssh://h:70000", /port out of range/],
    ["ssh://", /expected ssh:\/\/\[user@\]host\[:port\]/],
    ["x", /only unix:\/\//],
  ];
  for (const [value, message] of bad) {
    assert.throws(() => parseDockerHost(value), (e) => {
      assert.ok(e instanceof TypeError);
      assert.ok(e.message.startsWith(`Cannot use Docker host "${value}": `), e.message);
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("formatDockerEndpoint() round-trips with parseDockerHost() and never shows key material", () => {
  for (
    const value of [
      "unix:///var/run/docker.sock",
      "tcp://127.0.0.1:2375",
      "tcp://[::1]:2375",
      "ssh://me@build-1:2222",
      "ssh://[fd00::1]",
    ]
  ) {
    assert.equal(formatDockerEndpoint(parseDockerHost(value)), value);
  }
  const tls = { verify: true, ca: CA, cert: CERT, key: KEY, source: "/certs" };
  assert.equal(
    formatDockerEndpoint({ transport: "tcp", hostname: "h", port: 2376, tls }),
    "tcp://h:2376 (TLS)",
  );
  assert.equal(
    formatDockerEndpoint({
      transport: "tcp",
      hostname: "h",
      port: 2376,
      tls: { ...tls, verify: false },
    }),
    "tcp://h:2376 (TLS, unverified)",
  );
  assert.equal(
    formatDockerEndpoint({
      transport: "ssh",
      hostname: "h",
      sshArgs: ["-i", "/home/me/.ssh/secret"],
    }),
    "ssh://h",
  );
  const line = describeDockerEndpointChoice({
    endpoint: { transport: "tcp", hostname: "h", port: 2376, tls },
    source: "DOCKER_HOST",
    origin: "DOCKER_HOST",
    skipped: [],
  });
  assert.equal(line, "tcp://h:2376 (TLS) (DOCKER_HOST)");
  assert.ok(!line.includes("SECRET"));
});

Deno.test("dockerEndpointCandidates() follows the CLI: option, DOCKER_HOST, DOCKER_CONTEXT, current context", async () => {
  const home = "/home/me";
  const files = {
    [`${home}/.docker/config.json`]: JSON.stringify({ auths: {}, currentContext: "current" }),
    ...await contextFiles(`${home}/.docker`, "current", { Host: "unix:///current.sock" }),
    ...await contextFiles(`${home}/.docker`, "named", { Host: "unix:///named.sock" }),
  };
  const list = (vars: Record<string, string>, extra: DockerEndpointCandidatesOptions = {}) =>
    summary(dockerEndpointCandidates({ ...fake({ HOME: home, ...vars }, files), ...extra }));
  const all = { DOCKER_HOST: "tcp://127.0.0.1:2375", DOCKER_CONTEXT: "named" };
  assert.deepEqual(list(all, { socketPath: "/opt/d.sock" }), ["option unix:///opt/d.sock"]);
  assert.deepEqual(
    list(all, { endpoint: { transport: "unix", path: "/e.sock" } }),
    ["option unix:///e.sock"],
  );
  // As with the CLI, DOCKER_HOST wins over DOCKER_CONTEXT.
  assert.deepEqual(list(all), ["DOCKER_HOST tcp://127.0.0.1:2375"]);
  assert.deepEqual(list({ DOCKER_HOST: "", DOCKER_CONTEXT: "named" }, { socketPath: "" }), [
    "DOCKER_CONTEXT[named] unix:///named.sock",
  ]);
  assert.deepEqual(list({}), ["context[current] unix:///current.sock"]);
  const [current] = dockerEndpointCandidates(fake({ HOME: home }, files));
  assert.equal(current?.origin, `context "current" (current in ${home}/.docker/config.json)`);
  assert.equal(current?.value, "unix:///current.sock");
  // DOCKER_CONFIG moves the whole tree: no config.json there, so no current context.
  assert.equal(list({ DOCKER_CONFIG: "/elsewhere/" })[0], "default unix:///var/run/docker.sock");
  // "default" means no context: DOCKER_CONTEXT=default also hides config.json's current context.
  assert.equal(list({ DOCKER_CONTEXT: "default" })[0], "default unix:///var/run/docker.sock");
  const defaultCurrent = { [`${home}/.docker/config.json`]: '{"currentContext":"default"}' };
  assert.equal(
    summary(dockerEndpointCandidates(fake({ HOME: home }, defaultCurrent)))[0],
    "default unix:///var/run/docker.sock",
  );
});

Deno.test("dockerEndpointCandidates() lists /var/run/docker.sock, then the laptop and rootless sockets", () => {
  const options = fake({ HOME: "/home/me/", XDG_RUNTIME_DIR: "/run/user/1000/" });
  const candidates = dockerEndpointCandidates(options);
  assert.deepEqual(candidates.map((c) => `${c.source} ${c.value}`), [
    "default /var/run/docker.sock",
    "XDG_RUNTIME_DIR /run/user/1000/docker.sock",
    "docker-desktop /home/me/.docker/run/docker.sock",
    "docker-desktop /home/me/.docker/desktop/docker.sock",
    "colima /home/me/.colima/default/docker.sock",
    "orbstack /home/me/.orbstack/run/docker.sock",
    "rancher-desktop /home/me/.rd/docker.sock",
    "podman /run/user/1000/podman/podman.sock",
    "podman /run/podman/podman.sock",
  ]);
  assert.deepEqual(options.reads, ["/home/me/.docker/config.json"]);
  assert.ok(candidates.every((c) => c.endpoint?.transport === "unix" && c.origin !== ""));
  // Without HOME nothing is read; a relative runtime dir is ignored; a socket is listed once.
  const bare = fake({ XDG_RUNTIME_DIR: "relative" });
  assert.deepEqual(dockerEndpointCandidates(bare).map((c) => c.value), [
    "/var/run/docker.sock",
    "/run/podman/podman.sock",
  ]);
  assert.deepEqual(bare.reads, []);
  assert.deepEqual(
    dockerEndpointCandidates(fake({ XDG_RUNTIME_DIR: "/var/run" })).map((c) => c.source),
    ["default", "podman", "podman"],
  );
  // The injected home wins over HOME.
  assert.equal(
    dockerEndpointCandidates({ ...fake({ HOME: "/x" }), home: "/y" })[1]?.value,
    "/y/.docker/run/docker.sock",
  );
});

Deno.test("dockerEndpointCandidates() reads DOCKER_TLS_VERIFY, DOCKER_TLS and DOCKER_CERT_PATH for tcp://", () => {
  const pems = { "/certs/ca.pem": CA, "/certs/cert.pem": CERT, "/certs/key.pem": KEY };
  const one = (vars: Record<string, string>, files: Record<string, string | Error> = pems) =>
    dockerEndpointCandidates(fake({ DOCKER_HOST: "tcp://engine", ...vars }, files))[0]!;
  assert.deepEqual(one({ DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs/" }).endpoint, {
    transport: "tcp",
    hostname: "engine",
    port: 2376,
    tls: { verify: true, ca: CA, cert: CERT, key: KEY, source: "/certs" },
  });
  // As the CLI: any non-empty value turns verification on, even "0"; empty is unset.
  assert.equal(
    one({ DOCKER_TLS_VERIFY: "0", DOCKER_CERT_PATH: "/certs" }).endpoint?.transport,
    "tcp",
  );
  assert.deepEqual(one({ DOCKER_TLS_VERIFY: "", DOCKER_CERT_PATH: "/certs" }).endpoint, {
    transport: "tcp",
    hostname: "engine",
    port: 2375,
  });
  // The default directory is ~/.docker.
  const home = { "/home/me/.docker/ca.pem": CA };
  assert.deepEqual(one({ DOCKER_TLS_VERIFY: "1", HOME: "/home/me" }, home).endpoint, {
    transport: "tcp",
    hostname: "engine",
    port: 2376,
    tls: { verify: true, ca: CA, source: "/home/me/.docker" },
  });
  // DOCKER_TLS alone: TLS, and (unlike the CLI) still verified, against the system roots without ca.pem.
  assert.deepEqual(one({ DOCKER_TLS: "1", HOME: "/home/me" }, {}).endpoint, {
    transport: "tcp",
    hostname: "engine",
    port: 2376,
    tls: { verify: true, source: "/home/me/.docker" },
  });
  // Not for unix:// or ssh://: nothing is read.
  const unix = fake({ DOCKER_HOST: "unix:///d.sock", DOCKER_TLS_VERIFY: "1" });
  assert.deepEqual(dockerEndpointCandidates(unix)[0]?.endpoint, {
    transport: "unix",
    path: "/d.sock",
  });
  assert.deepEqual(unix.reads, []);

  const problems: [Record<string, string>, Record<string, string | Error>, RegExp][] = [
    [{ DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" }, {}, /"\/certs\/ca\.pem" is missing/],
    [{ DOCKER_TLS_VERIFY: "1" }, {}, /neither DOCKER_CERT_PATH nor HOME/],
    [{ DOCKER_TLS: "1", DOCKER_CERT_PATH: "/none" }, {}, /DOCKER_CERT_PATH "\/none" holds none/],
    [
      { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" },
      { "/certs/ca.pem": CA, "/certs/cert.pem": CERT },
      /has cert\.pem but no key\.pem/,
    ],
    [
      { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" },
      { "/certs/ca.pem": "not a certificate" },
      /"\/certs\/ca\.pem" is not a PEM file/,
    ],
    [
      { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" },
      { "/certs/ca.pem": CA, "/certs/key.pem": new Deno.errors.PermissionDenied("EACCES") },
      /"\/certs\/key\.pem" cannot be read: EACCES/,
    ],
    [
      { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" },
      { "/certs/ca.pem": new Deno.errors.NotCapable("Requires read access") },
      /Deno permission denied \(grant --allow-read=\/certs\)/,
    ],
  ];
  for (const [vars, files, problem] of problems) {
    const candidate = one(vars, files);
    assert.equal(candidate.endpoint, undefined);
    assert.equal(candidate.source, "DOCKER_HOST");
    assert.match(candidate.problem!, problem);
    assert.match(candidate.fix!, /DOCKER_CERT_PATH/);
  }
});

Deno.test("dockerEndpointCandidates() reads a context's meta.json and TLS files as the CLI writes them", async () => {
  const dir = "/cfg";
  const files = {
    ...await contextFiles(dir, "remote", { Host: "tcp://engine.example", SkipTLSVerify: false }, {
      "ca.pem": CA,
      "cert.pem": CERT,
      "key.pem": KEY,
    }),
    ...await contextFiles(dir, "insecure", { Host: "tcp://10.0.0.1:2376", SkipTLSVerify: true }),
    ...await contextFiles(dir, "plain", { Host: "tcp://10.0.0.1", SkipTLSVerify: false }),
    ...await contextFiles(dir, "over-ssh", { Host: "ssh://me@build-1:2222" }),
  };
  const endpointOf = (name: string) =>
    dockerEndpointCandidates(fake({ DOCKER_CONFIG: dir, DOCKER_CONTEXT: name }, files))[0]
      ?.endpoint;
  assert.deepEqual(endpointOf("remote"), {
    transport: "tcp",
    hostname: "engine.example",
    port: 2376,
    tls: {
      verify: true,
      ca: CA,
      cert: CERT,
      key: KEY,
      source: `${dir}/contexts/tls/${sha256Hex("remote")}/docker`,
    },
  });
  assert.deepEqual(endpointOf("insecure"), {
    transport: "tcp",
    hostname: "10.0.0.1",
    port: 2376,
    tls: { verify: false, source: `${dir}/contexts/tls/${sha256Hex("insecure")}/docker` },
  });
  assert.deepEqual(endpointOf("plain"), { transport: "tcp", hostname: "10.0.0.1", port: 2375 });
  assert.deepEqual(endpointOf("over-ssh"), {
    transport: "ssh",
    user: "me",
    hostname: "build-1",
    port: 2222,
  });
});

Deno.test("dockerEndpointCandidates() keeps a configured context that cannot be used, with why and how to fix it", async () => {
  const dir = "/cfg";
  const meta = (name: string) => `${dir}/contexts/meta/${sha256Hex(name)}/meta.json`;
  const files: Record<string, string | Error> = {
    [meta("broken")]: "{not json",
    [meta("no-docker")]: JSON.stringify({ Name: "no-docker", Endpoints: {} }),
    [meta("no-host")]: JSON.stringify({ Endpoints: { docker: { SkipTLSVerify: false } } }),
    [meta("bad-host")]: JSON.stringify({ Endpoints: { docker: { Host: "npipe:////./pipe/x" } } }),
    [meta("locked")]: new Deno.errors.PermissionDenied("EACCES"),
    ...await contextFiles(dir, "half-tls", { Host: "tcp://h:2376" }, { "key.pem": KEY }),
  };
  const cases: [string, RegExp, RegExp][] = [
    ["missing", /no such context \(".*\/meta\.json" is missing\)/, /docker context create missing/],
    ["broken", /meta\.json" is not valid JSON/, /docker context inspect broken/],
    ["no-docker", /has no docker endpoint \(Endpoints\.docker\)/, /unset DOCKER_CONTEXT/],
    ["no-host", /has no Endpoints\.docker\.Host/, /unset DOCKER_CONTEXT/],
    ["bad-host", /"npipe:\/\/\/\/\.\/pipe\/x": only unix:\/\//, /docker context update bad-host/],
    ["locked", /meta\.json" cannot be read: EACCES/, /unset DOCKER_CONTEXT/],
    ["half-tls", /has key\.pem but no cert\.pem/, /unset DOCKER_CONTEXT/],
  ];
  for (const [name, problem, fix] of cases) {
    const candidates = dockerEndpointCandidates(
      fake({ DOCKER_CONFIG: dir, DOCKER_CONTEXT: name }, files),
    );
    assert.equal(candidates.length, 1, `${name}: never a fallback`);
    const [candidate] = candidates;
    assert.equal(candidate?.endpoint, undefined, name);
    assert.equal(candidate?.context, name);
    assert.equal(candidate?.origin, `context "${name}" (DOCKER_CONTEXT)`);
    assert.match(candidate!.problem!, problem, name);
    assert.match(candidate!.fix!, fix, name);
  }
  // The current context: a missing one, and a config.json that cannot be trusted.
  const current = dockerEndpointCandidates(
    fake({ HOME: "/h" }, { "/h/.docker/config.json": '{"currentContext":"gone"}' }),
  );
  assert.equal(current.length, 1);
  assert.match(current[0]!.problem!, /no such context/);
  assert.match(current[0]!.fix!, /docker context use default/);
  for (
    const [text, problem] of [
      ["{", /config\.json" is not valid JSON/],
      ['{"currentContext":7}', /"currentContext" in ".*config\.json" is not a string/],
      [new Deno.errors.PermissionDenied("EACCES"), /config\.json" cannot be read/],
    ] as const
  ) {
    const [candidate, ...rest] = dockerEndpointCandidates(
      fake({ HOME: "/h" }, { "/h/.docker/config.json": text }),
    );
    assert.deepEqual(rest, []);
    assert.equal(candidate?.source, "context");
    assert.match(candidate!.problem!, problem);
    assert.match(candidate!.fix!, /DOCKER_HOST or DOCKER_CONTEXT/);
  }
  // DOCKER_CONTEXT with nowhere to look.
  const [nowhere] = dockerEndpointCandidates(fake({ DOCKER_CONTEXT: "x1" }));
  assert.match(nowhere!.problem!, /neither DOCKER_CONFIG nor HOME/);
});

Deno.test("dockerEndpointCandidates() checks the endpoint option", () => {
  const bad: [unknown, RegExp][] = [
    [{ transport: "npipe" }, /transport "npipe" is none of/],
    [{ transport: "unix", path: "rel" }, /absolute path/],
    [{ transport: "tcp", hostname: "", port: 1 }, /hostname is empty/],
    [{ transport: "tcp", hostname: "h" }, /port undefined is not an integer/],
    [{ transport: "ssh", hostname: "h", port: 0 }, /port 0 is not an integer/],
  ];
  for (const [endpoint, problem] of bad) {
    const [candidate] = dockerEndpointCandidates({
      ...fake({}),
      endpoint: endpoint as DockerEndpoint,
    });
    assert.equal(candidate?.endpoint, undefined);
    assert.match(candidate!.problem!, problem);
  }
  const [both] = dockerEndpointCandidates({
    ...fake({}),
    socketPath: "/a.sock",
    endpoint: { transport: "unix", path: "/b.sock" },
  });
  assert.match(both!.fix!, /socketPath or endpoint, not both/);
  const ssh: DockerEndpoint = { transport: "ssh", hostname: "h", sshArgs: ["-i", "k"] };
  assert.equal(dockerEndpointCandidates({ ...fake({}), endpoint: ssh })[0]?.endpoint, ssh);
});

Deno.test("DockerClient takes socketPath or endpoint, not both", () => {
  assert.throws(
    () =>
      new DockerClient({
        socketPath: "/a.sock",
        endpoint: { transport: "unix", path: "/b.sock" },
      }),
    TypeError,
    "give the socketPath or the endpoint option, not both",
  );
});

Deno.test("dockerEndpointCandidates() reads the real environment by default", () => {
  const candidates = dockerEndpointCandidates();
  assert.ok(candidates.length >= 1);
  const configured = ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG"].some((name) =>
    Deno.env.get(name) !== undefined
  );
  if (!configured && candidates[0]?.source === "default") {
    assert.equal(candidates[0].value, DEFAULT_DOCKER_SOCKET);
  }
});

/** A probe failing with `failures[url]` and answering the others; records what it tried. */
function probeOf(failures: Record<string, Error>) {
  const tried: string[] = [];
  return {
    tried,
    probe: (endpoint: DockerEndpoint) => {
      const url = formatDockerEndpoint(endpoint);
      tried.push(url);
      const failure = failures[url];
      return failure === undefined ? Promise.resolve(url) : Promise.reject(failure);
    },
  };
}

Deno.test("discoverDockerEndpoint() goes on to the fallbacks only when /var/run/docker.sock is missing", async () => {
  const env = fake({ HOME: "/home/me", XDG_RUNTIME_DIR: "/run/user/7" });
  const { tried, probe } = probeOf({
    "unix:///var/run/docker.sock": new Deno.errors.NotFound("ENOENT"),
    // A stale rootless socket: the file is there, nothing listens.
    "unix:///run/user/7/docker.sock": new Deno.errors.ConnectionRefused("ECONNREFUSED"),
    "unix:///home/me/.docker/run/docker.sock": new Deno.errors.NotFound("ENOENT"),
    "unix:///home/me/.docker/desktop/docker.sock": new Deno.errors.NotFound("ENOENT"),
  });
  const found = await discoverDockerEndpoint({ ...env, probe });
  assert.deepEqual(tried, [
    "unix:///var/run/docker.sock",
    "unix:///run/user/7/docker.sock",
    "unix:///home/me/.docker/run/docker.sock",
    "unix:///home/me/.docker/desktop/docker.sock",
    "unix:///home/me/.colima/default/docker.sock",
  ]);
  assert.deepEqual(found, {
    endpoint: { transport: "unix", path: "/home/me/.colima/default/docker.sock" },
    source: "colima",
    origin: "Colima",
    skipped: [
      { endpoint: "unix:///var/run/docker.sock", reason: "missing" },
      { endpoint: "unix:///run/user/7/docker.sock", reason: "refused" },
      { endpoint: "unix:///home/me/.docker/run/docker.sock", reason: "missing" },
      { endpoint: "unix:///home/me/.docker/desktop/docker.sock", reason: "missing" },
    ],
    probed: "unix:///home/me/.colima/default/docker.sock",
  });
  assert.equal(
    describeDockerEndpointChoice(found),
    'unix:///home/me/.colima/default/docker.sock (Colima); skipped "unix:///var/run/docker.sock" (missing), "unix:///run/user/7/docker.sock" (refused), "unix:///home/me/.docker/run/docker.sock" (missing), "unix:///home/me/.docker/desktop/docker.sock" (missing)',
  );
  // The default socket answering: nothing else is tried.
  const quiet = probeOf({});
  const first = await discoverDockerEndpoint({ ...env, probe: quiet.probe });
  assert.deepEqual(quiet.tried, ["unix:///var/run/docker.sock"]);
  assert.deepEqual([first.source, first.origin, first.skipped], [
    "default",
    "the default socket",
    [],
  ]);
});

Deno.test("discoverDockerEndpoint() stops at a /var/run/docker.sock that exists but does not serve", async () => {
  const env = fake({ HOME: "/home/me", XDG_RUNTIME_DIR: "/run/user/7" });
  const cases: [Error, string, RegExp][] = [
    [new Deno.errors.ConnectionRefused("ECONNREFUSED"), "refused", /stale socket file/],
    [new Deno.errors.PermissionDenied("EACCES"), "permission denied", /usermod -aG docker/],
    [
      new Deno.errors.NotCapable("Requires read access"),
      "permission denied",
      /--allow-read=\/var\/run\/docker\.sock --allow-write=\/var\/run\/docker\.sock/,
    ],
  ];
  for (const [failure, reason, fix] of cases) {
    const { tried, probe } = probeOf({ "unix:///var/run/docker.sock": failure });
    const error = await discoverDockerEndpoint({ ...env, probe }).catch((e) => e);
    assert.ok(error instanceof DockerConnectionError);
    assert.deepEqual(tried, ["unix:///var/run/docker.sock"]);
    assert.deepEqual(error.attempts, [{ endpoint: "unix:///var/run/docker.sock", reason }]);
    assert.ok(
      error.message.startsWith(
        `Cannot connect to the Docker engine: tried "unix:///var/run/docker.sock" (the default socket: ${reason}); `,
      ),
      error.message,
    );
    assert.match(error.message, fix);
    assert.equal(error.cause, failure);
  }
});

Deno.test("discoverDockerEndpoint() names every socket tried when none answers", async () => {
  const env = fake({ XDG_RUNTIME_DIR: "/run/user/1" });
  const missing = new Deno.errors.NotFound("ENOENT");
  const { probe } = probeOf({
    "unix:///var/run/docker.sock": missing,
    "unix:///run/user/1/docker.sock": new Deno.errors.PermissionDenied("EACCES"),
    "unix:///run/user/1/podman/podman.sock": missing,
    "unix:///run/podman/podman.sock": missing,
  });
  const error = await discoverDockerEndpoint({ ...env, probe }).catch((e) => e);
  assert.ok(error instanceof DockerConnectionError);
  assert.deepEqual(error.attempts, [
    { endpoint: "unix:///var/run/docker.sock", reason: "missing" },
    { endpoint: "unix:///run/user/1/docker.sock", reason: "permission denied" },
    { endpoint: "unix:///run/user/1/podman/podman.sock", reason: "missing" },
    { endpoint: "unix:///run/podman/podman.sock", reason: "missing" },
  ]);
  assert.equal(
    error.message,
    'Cannot connect to the Docker engine: tried "unix:///var/run/docker.sock" (the default socket: missing), ' +
      '"unix:///run/user/1/docker.sock" (rootless Docker ($XDG_RUNTIME_DIR): permission denied), ' +
      '"unix:///run/user/1/podman/podman.sock" (rootless Podman: missing), ' +
      '"unix:///run/podman/podman.sock" (Podman: missing); start an engine (sudo systemctl start docker; ' +
      "Docker Desktop, Colima, OrbStack, Rancher Desktop or Podman on a laptop), or choose one with " +
      "DOCKER_HOST or docker context use; in a container, mount the socket: -v /var/run/docker.sock:/var/run/docker.sock",
  );
  assert.equal(error.cause, missing);
});

Deno.test("discoverDockerEndpoint() never falls back from a configured endpoint", async () => {
  const meta = `/cfg/contexts/meta/${sha256Hex("prod")}/meta.json`;
  const files = {
    [meta]: JSON.stringify({ Endpoints: { docker: { Host: "tcp://10.1.1.1:2375" } } }),
    "/h/.docker/config.json": '{"currentContext":"prod"}',
    [`/h/.docker/contexts/meta/${sha256Hex("prod")}/meta.json`]: JSON.stringify({
      Endpoints: { docker: { Host: "unix:///prod.sock" } },
    }),
  };
  const cases: [DockerEndpointCandidatesOptions, string, string, RegExp][] = [
    [
      { socketPath: "/opt/d.sock" },
      "unix:///opt/d.sock",
      "the socketPath option",
      /check the socketPath/,
    ],
    [
      {
        endpoint: { transport: "tcp", hostname: "h", port: 2376, tls: { verify: true, key: KEY } },
      },
      "tcp://h:2376 (TLS)",
      "the endpoint option",
      /check the socketPath \(or endpoint\) option/,
    ],
    [
      fake({ DOCKER_HOST: "tcp://127.0.0.1:1" }),
      "tcp://127.0.0.1:1",
      "DOCKER_HOST",
      /point DOCKER_HOST/,
    ],
    [
      fake({ DOCKER_CONFIG: "/cfg", DOCKER_CONTEXT: "prod" }, files),
      "tcp://10.1.1.1:2375",
      'context "prod" (DOCKER_CONTEXT)',
      /docker context update prod --docker host=…\), or unset DOCKER_CONTEXT/,
    ],
    [
      fake({ HOME: "/h" }, files),
      "unix:///prod.sock",
      'context "prod" (current in /h/.docker/config.json)',
      /docker context use default/,
    ],
  ];
  for (const [options, url, origin, fix] of cases) {
    const refused = new Deno.errors.ConnectionRefused("ECONNREFUSED");
    const tried: string[] = [];
    const error = await discoverDockerEndpoint({
      ...fake({ HOME: "/h", XDG_RUNTIME_DIR: "/run/user/1" }),
      ...options,
      probe: (endpoint) => {
        tried.push(formatDockerEndpoint(endpoint));
        return Promise.reject(refused);
      },
    }).catch((e) => e);
    assert.ok(error instanceof DockerConnectionError);
    assert.deepEqual(tried, [url]);
    assert.deepEqual(error.attempts, [{ endpoint: url, reason: "refused" }]);
    assert.ok(
      error.message.startsWith(
        `Cannot connect to the Docker engine: tried "${url}" (${origin}: refused); `,
      ),
      error.message,
    );
    assert.match(error.message, fix);
    assert.ok(!error.message.includes("SECRET"));
  }
});

Deno.test("discoverDockerEndpoint() fails on an unusable configured choice without probing anything", async () => {
  const cases: [DockerEndpointCandidatesOptions, string][] = [
    [
      fake({ DOCKER_CONFIG: "/cfg", DOCKER_CONTEXT: "nope" }),
      `Cannot connect to the Docker engine: context "nope" (DOCKER_CONTEXT): no such context ("/cfg/contexts/meta/${
        sha256Hex("nope")
      }/meta.json" is missing); create it (docker context create nope --docker host=…), pick one of docker context ls, or unset DOCKER_CONTEXT`,
    ],
    [
      fake({ DOCKER_HOST: "npipe:////./pipe/docker" }),
      'Cannot connect to the Docker engine: DOCKER_HOST: "npipe:////./pipe/docker": only unix://, tcp:// and ssh:// are supported; set DOCKER_HOST to unix:///path, tcp://host:port or ssh://[user@]host[:port], or unset it',
    ],
    [
      fake({ DOCKER_HOST: "tcp://h", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" }),
      'Cannot connect to the Docker engine: DOCKER_HOST: DOCKER_TLS_VERIFY is set but "/certs/ca.pem" is missing; put the engine\'s ca.pem (and a client cert.pem with its key.pem) in "/certs", set DOCKER_CERT_PATH to the directory holding them, or unset DOCKER_TLS_VERIFY for plain TCP',
    ],
  ];
  for (const [options, message] of cases) {
    const { tried, probe } = probeOf({});
    const error = await discoverDockerEndpoint({ ...options, probe }).catch((e) => e);
    assert.ok(error instanceof DockerConnectionError);
    assert.equal(error.message, message);
    assert.deepEqual(tried, []);
    assert.equal(error.attempts.length, 1);
  }
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
