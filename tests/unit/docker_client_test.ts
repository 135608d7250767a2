import assert from "node:assert/strict";
import {
  collectLogs,
  DockerClient,
  type DockerClientOptions,
  DockerConnectionError,
  DockerError,
  DockerProtocolError,
} from "../../src/docker/mod.ts";
import {
  chunked,
  FakeEngine,
  type FakeReply,
  type FakeRequest,
  json,
} from "../fuzz/docker_fake_engine.ts";

const PING = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nOstype: linux\r\nContent-Length: 2\r\n\r\nOK";

/** Runs `test` against a fake engine; everything is closed afterwards. */
async function withEngine(
  handler: (request: FakeRequest) => FakeReply | Promise<FakeReply>,
  test: (client: DockerClient, engine: FakeEngine) => Promise<void>,
  options: DockerClientOptions = {},
): Promise<void> {
  await using engine = await FakeEngine.start((request) =>
    request.path === "/_ping" ? PING : handler(request)
  );
  await using client = new DockerClient({
    socketPath: engine.path,
    env: () => undefined,
    ...options,
  });
  await test(client, engine);
}

Deno.test("DockerClient reuses one keep-alive connection for sequential calls", async () => {
  await withEngine(() => json(200, { Id: "abc" }), async (client, engine) => {
    for (let i = 0; i < 20; i++) assert.equal((await client.containerInspect("abc")).Id, "abc");
    assert.equal(engine.connections, 1);
    assert.deepEqual(client.connections, { idle: 1, busy: 0 });
    assert.equal(engine.requests.length, 21);
    assert.equal(engine.requests[1]?.path, "/v1.41/containers/abc/json");
  });
});

Deno.test("DockerClient negotiates the API version once, capped at 1.52", async () => {
  const cases = [
    // [engine's Api-Version, what the client uses, whether /version was asked for the minimum]
    ["1.53", "1.52", true],
    ["1.52", "1.52", false],
    ["1.44", "1.44", false],
    ["1.30", "1.30", false],
  ] as const;
  for (const [engineVersion, expected, asksVersion] of cases) {
    await using engine = await FakeEngine.start((request) => {
      if (request.path === "/_ping") {
        return `HTTP/1.1 200 OK\r\nApi-Version: ${engineVersion}\r\nContent-Length: 2\r\n\r\nOK`;
      }
      if (request.path === "/version") {
        return json(200, { ApiVersion: engineVersion, MinAPIVersion: "1.44" });
      }
      return json(200, []);
    });
    await using client = new DockerClient({ socketPath: engine.path });
    await Promise.all([client.containerList(), client.containerList()]);
    await client.containerList();
    assert.equal(client.apiVersion, expected);
    assert.deepEqual(engine.requests.map((r) => r.path), [
      "/_ping",
      ...(asksVersion ? ["/version"] : []),
      `/v${expected}/containers/json`,
      `/v${expected}/containers/json`,
      `/v${expected}/containers/json`,
    ]);
  }
});

Deno.test("DockerClient refuses an engine whose minimum API is above its own maximum, naming both ranges", async () => {
  await using engine = await FakeEngine.start((request) => {
    if (request.path === "/_ping") {
      return "HTTP/1.1 200 OK\r\nApi-Version: 1.70\r\nContent-Length: 2\r\n\r\nOK";
    }
    if (request.path === "/version") {
      return json(200, { ApiVersion: "1.70", MinAPIVersion: "1.60" });
    }
    return json(200, []);
  });
  await using client = new DockerClient({ socketPath: engine.path });
  const error = await client.containerList().catch((e) => e);
  assert.ok(error instanceof DockerProtocolError, String(error));
  assert.match(
    error.message,
    /API 1\.60 to 1\.70, this client 1\.24 to 1\.52; upgrade flame-docker/,
  );
  assert.equal(engine.requests.filter((r) => /^\/v\d/.test(r.path)).length, 0);
});

Deno.test("DockerClient explains an engine's refusal of a pinned old API version", async () => {
  const refusal =
    "client version 1.41 is too old. Minimum supported API version is 1.44, please upgrade your client to a newer version";
  await withEngine(
    (request) =>
      request.path.startsWith("/v1.41/") ? json(400, { message: refusal }) : json(200, []),
    async (client) => {
      const error = await client.containerInspect("c").catch((e) => e);
      assert.ok(error instanceof DockerError && error.status === 400, String(error));
      assert.equal(error.engineMessage, refusal);
      assert.match(
        error.message,
        /the engine accepts API 1\.44 and newer; this client speaks 1\.24 to 1\.52: remove the apiVersion option "1\.41" to negotiate, or set it to 1\.44 or newer/,
      );
    },
    { apiVersion: "1.41" },
  );
});

Deno.test("DockerClient names a proxy's HTML refusal without quoting the page", async () => {
  const page =
    "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n";
  await withEngine(
    () =>
      `HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\n\r\n${page}`,
    async (client) => {
      const error = await client.imageInspect("app:1").catch((e) => e);
      assert.ok(error instanceof DockerError && error.status === 403, String(error));
      assert.equal(
        error.message,
        'Cannot inspect image "app:1": the engine or a proxy in front of it refused GET /v1.41/images/app:1/json with status 403 Forbidden (a socket proxy must allow this call: see SECURITY.md)',
      );
      assert.doesNotMatch(error.message, /<html|administrative/);
    },
  );
});

Deno.test("DockerClient takes container names in the engine's own leading-slash form", async () => {
  await withEngine(() => json(200, { Id: "abc", Name: "/web" }), async (client, engine) => {
    const inspect = await client.containerInspect("/web");
    assert.equal((await client.containerInspect(inspect.Name)).Id, "abc");
    await client.containerKill("/web");
    assert.deepEqual(engine.requests.slice(1).map((r) => r.path), [
      "/v1.41/containers/web/json",
      "/v1.41/containers/web/json",
      "/v1.41/containers/web/kill",
    ]);
    await assert.rejects(client.containerInspect("/"), TypeError);
  });
});

Deno.test("DockerClient falls back to /version and refuses too old an engine", async () => {
  await using engine = await FakeEngine.start((request) => {
    if (request.path === "/_ping") return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK";
    if (request.path === "/version") return json(200, { ApiVersion: "1.12" });
    return json(200, {});
  });
  await using client = new DockerClient({ socketPath: engine.path });
  await assert.rejects(
    client.version(),
    (e) => e instanceof DockerProtocolError && /"1\.12"/.test(e.message) && /1\.24/.test(e.message),
  );
  await using fixed = new DockerClient({ socketPath: engine.path, apiVersion: "1.40" });
  await fixed.version();
  assert.equal(engine.requests.at(-1)?.path, "/v1.40/version");
});

Deno.test("DockerClient turns error bodies into DockerError with status, message and endpoint", async () => {
  await withEngine((request) => {
    if (request.path.includes("/images/")) return json(404, { message: "No such image: x:1" });
    if (request.path.includes("create")) {
      return json(409, { message: 'Conflict. The name "/n" is in use' });
    }
    return "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops";
  }, async (client) => {
    const missing = await client.imageInspect("reg:5000/x:1").catch((e) => e);
    assert.ok(missing instanceof DockerError);
    assert.deepEqual(
      [missing.status, missing.notFound, missing.conflict, missing.method, missing.path],
      [404, true, false, "GET", "/v1.41/images/reg:5000/x:1/json"],
    );
    assert.equal(missing.message, 'Cannot inspect image "reg:5000/x:1": No such image: x:1');
    assert.equal(missing.engineMessage, "No such image: x:1");
    const taken = await client.containerCreate({ Image: "i" }, { name: "n" }).catch((e) => e);
    assert.ok(taken instanceof DockerError && taken.conflict);
    assert.match(taken.message, /^Cannot create container "n": Conflict/);
    const plain = await client.networkInspect("net").catch((e) => e);
    assert.ok(plain instanceof DockerError);
    assert.equal(plain.message, 'Cannot inspect network "net": oops');
  });
});

Deno.test("DockerClient reports 304 from start and stop as false", async () => {
  await withEngine(
    (request) =>
      request.path.endsWith("/start")
        ? "HTTP/1.1 304 Not Modified\r\n\r\n"
        : "HTTP/1.1 204 No Content\r\n\r\n",
    async (client, engine) => {
      assert.equal(await client.containerStart("c"), false);
      assert.equal(await client.containerStop("c", { t: 3 }), true);
      assert.equal(engine.requests.at(-1)?.path, "/v1.41/containers/c/stop?t=3");
      assert.equal(engine.connections, 1);
    },
  );
});

Deno.test("DockerClient sends typed request bodies and queries", async () => {
  await withEngine(() => json(201, { Id: "new", Warnings: [] }), async (client, engine) => {
    const created = await client.containerCreate(
      { Image: "img", Cmd: ["a b"], Labels: { "k": "v" }, HostConfig: { AutoRemove: true } },
      { name: "my name" },
    );
    assert.equal(created.Id, "new");
    const request = engine.requests.at(-1)!;
    assert.equal(request.path, "/v1.41/containers/create?name=my%20name");
    assert.equal(request.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(request.body), {
      Image: "img",
      Cmd: ["a b"],
      Labels: { k: "v" },
      HostConfig: { AutoRemove: true },
    });
    await client.containerList({ all: true, filters: { label: ["a=b", "c"] } });
    assert.equal(
      decodeURIComponent(engine.requests.at(-1)!.path),
      '/v1.41/containers/json?all=1&filters={"label":["a=b","c"]}',
    );
    await client.containerRemove("x", { force: true, volumes: true });
    assert.equal(engine.requests.at(-1)!.path, "/v1.41/containers/x?force=1&v=1");
    assert.equal(engine.requests.at(-1)!.method, "DELETE");
    await client.containerKill("x", { killSignal: "SIGTERM" });
    assert.equal(engine.requests.at(-1)!.path, "/v1.41/containers/x/kill?signal=SIGTERM");
  });
});

Deno.test("DockerClient.imagePull() streams progress, sends credentials, throws error lines", async () => {
  await withEngine(
    (request) =>
      request.path.includes("flame-bad")
        ? chunked(200, [
          '{"status":"Pulling"}\r\n{"error":"manifest unknown","errorDetail":{"message":"manifest unknown"}}\r\n',
        ])
        : chunked(200, ['{"status":"Pulling","id":"1"}\r\n{"stat', 'us":"Done"}\r\n']),
    async (client, engine) => {
      const lines = [];
      for await (
        const progress of client.imagePull("reg:5000/flame:1", {
          auth: { username: "u", password: "p?>" },
        })
      ) {
        lines.push(progress.status);
      }
      assert.deepEqual(lines, ["Pulling", "Done"]);
      const request = engine.requests.at(-1)!;
      assert.equal(request.path, "/v1.41/images/create?fromImage=reg%3A5000%2Fflame&tag=1");
      const auth = request.headers["x-registry-auth"]!;
      assert.doesNotMatch(auth, /[+/]/);
      assert.deepEqual(JSON.parse(atob(auth.replace(/-/g, "+").replace(/_/g, "/"))), {
        username: "u",
        password: "p?>",
      });
      const failure = await (async () => {
        for await (const _ of client.imagePull("flame-bad")) { /* drain */ }
      })().catch((e) => e);
      assert.ok(failure instanceof DockerError);
      assert.equal(failure.message, 'Cannot pull image "flame-bad": manifest unknown');
      assert.equal(
        engine.requests.at(-1)!.path,
        "/v1.41/images/create?fromImage=flame-bad&tag=latest",
      );
      assert.equal(client.connections.busy, 0);
    },
  );
});

Deno.test("DockerClient.containerLogs() demultiplexes, or passes a TTY stream through", async () => {
  const frames = new Uint8Array([
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    3,
    111,
    117,
    116,
    2,
    0,
    0,
    0,
    0,
    0,
    0,
    3,
    101,
    114,
    114,
  ]);
  await withEngine((request) => {
    if (request.path.startsWith("/v1.41/containers/tty/json")) {
      return json(200, { Config: { Tty: true } });
    }
    if (request.path.startsWith("/v1.41/containers/plain/json")) {
      return json(200, { Config: { Tty: false } });
    }
    if (request.path.startsWith("/v1.41/containers/tty/logs")) {
      return chunked(200, ["raw ", "text"]);
    }
    return chunked(200, [frames.subarray(0, 5), frames.subarray(5)]);
  }, async (client, engine) => {
    assert.deepEqual(await collectLogs(client.containerLogs("plain")), {
      stdout: "out",
      stderr: "err",
    });
    assert.deepEqual(await collectLogs(client.containerLogs("tty")), {
      stdout: "raw text",
      stderr: "",
    });
    const before = engine.requests.length;
    await collectLogs(client.containerLogs("plain", { tty: false, tail: 5, follow: true }));
    assert.equal(engine.requests.length, before + 1, "no inspect when tty is given");
    assert.equal(
      engine.requests.at(-1)!.path,
      "/v1.41/containers/plain/logs?stdout=1&stderr=1&follow=1&tail=5",
    );
  });
});

Deno.test("DockerClient destroys the connection of an aborted call and keeps working", async () => {
  await withEngine(
    (request) => request.path.endsWith("/wait") ? "hang" : json(200, { Id: "c" }),
    async (client, engine) => {
      await client.containerInspect("c");
      const controller = new AbortController();
      const waiting = client.containerWait("c", { signal: controller.signal });
      setTimeout(() => controller.abort(new Error("Stop waiting")), 20);
      await assert.rejects(waiting, { message: "Stop waiting" });
      assert.deepEqual(client.connections, { idle: 0, busy: 0 });
      await assert.rejects(
        client.containerWait("c", { timeout: 20 }),
        (e) =>
          e instanceof DOMException && e.name === "TimeoutError" &&
          e.message === 'Cannot wait for container "c": timed out after 20 ms',
      );
      const aborted = AbortSignal.abort(new Error("Never started"));
      await assert.rejects(client.containerInspect("c", { signal: aborted }), {
        message: "Never started",
      });
      assert.equal((await client.containerInspect("c")).Id, "c");
      assert.deepEqual(client.connections, { idle: 1, busy: 0 });
      assert.equal(engine.connections, 3);
    },
  );
});

Deno.test("DockerClient applies its default timeout", async () => {
  await withEngine(() => "hang", async (client) => {
    await assert.rejects(client.containerInspect("c"), { name: "TimeoutError" });
  }, { timeout: 30 });
});

Deno.test("DockerClient retries a GET on a connection the engine closed while idle", async () => {
  await withEngine(() => json(200, { Id: "c" }), async (client, engine) => {
    await client.containerInspect("c");
    engine.dropConnections();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal((await client.containerInspect("c")).Id, "c");
    assert.equal(engine.connections, 2);
  });
});

Deno.test("DockerClient rejects malformed responses with DockerProtocolError, never hangs", async () => {
  const replies: Record<string, FakeReply> = {
    bad: "HTTP/9 200 OK\r\n\r\n",
    json: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{{{",
    chunk: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    big: `HTTP/1.1 200 OK\r\nX: ${"a".repeat(70_000)}\r\n\r\n`,
    none: "close",
  };
  await withEngine((request) => replies[request.path.split("/")[3]!]!, async (client) => {
    for (const name of Object.keys(replies)) {
      await assert.rejects(client.containerInspect(name), DockerProtocolError, name);
    }
    assert.deepEqual(client.connections, { idle: 0, busy: 0 });
  });
});

Deno.test("DockerClient reports a truncated body as DockerProtocolError", async () => {
  await withEngine(
    () => "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",
    async (client, engine) => {
      const pending = client.containerInspect("c");
      setTimeout(() => engine.dropConnections(), 20);
      await assert.rejects(
        pending,
        (e) =>
          e instanceof DockerProtocolError &&
          /8 bytes of the response body missing/.test(e.message),
      );
    },
  );
});

Deno.test("DockerClient closes idle connections after the idle timeout", async () => {
  await withEngine(() => json(200, {}), async (client, engine) => {
    await Promise.all(Array.from({ length: 6 }, () => client.containerInspect("c")));
    assert.deepEqual(client.connections, { idle: 4, busy: 0 });
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.deepEqual(client.connections, { idle: 0, busy: 0 });
    assert.equal(engine.open, 0);
  }, { idleTimeout: 40, maxIdleConnections: 4 });
});

Deno.test("DockerClient.close() closes busy and idle connections", async () => {
  await withEngine(
    (request) => request.path.endsWith("/wait") ? "hang" : json(200, {}),
    async (client) => {
      await client.containerInspect("c");
      const waiting = client.containerWait("c").catch((e) => e);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(client.connections, { idle: 0, busy: 1 });
      await client.close();
      assert.ok(await waiting instanceof Error);
      assert.deepEqual(client.connections, { idle: 0, busy: 0 });
      await assert.rejects(
        client.containerInspect("c"),
        (e) => e instanceof DockerConnectionError && /the Docker client is closed/.test(e.message),
      );
    },
  );
});

Deno.test("DockerClient names the socket it could not reach", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using client = new DockerClient({ socketPath: `${dir}/none.sock`, env: () => undefined });
    const error = await client.ping().catch((e) => e);
    assert.ok(error instanceof DockerConnectionError);
    assert.deepEqual(error.attempts[0], { endpoint: `unix://${dir}/none.sock`, reason: "missing" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
