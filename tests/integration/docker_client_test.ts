import assert from "node:assert/strict";
import {
  collectLogs,
  type ContainerCreateBody,
  DockerClient,
  DockerError,
} from "../../src/docker/mod.ts";
import {
  DOCKER_SOCKET,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
  TEST_LABEL,
} from "../_helpers/docker.ts";

const DENO = "/usr/local/bin/deno";
/** Marks what one test run made, so listing by label finds exactly it. */
const RUN = crypto.randomUUID().slice(0, 8);

function client(): DockerClient {
  return new DockerClient({ socketPath: DOCKER_SOCKET });
}

function spec(code: string, extra: Partial<ContainerCreateBody> = {}): ContainerCreateBody {
  return {
    Image: TEST_IMAGE,
    Cmd: [DENO, "eval", code],
    Labels: { [TEST_LABEL]: RUN },
    // No network: the containers only print.
    HostConfig: { NetworkMode: "none" },
    ...extra,
  };
}

function uniqueName(): string {
  return `flame-test-docker-client-${crypto.randomUUID().slice(0, 12)}`;
}

async function removeAll(docker: DockerClient, ids: string[]): Promise<void> {
  for (const id of ids) {
    await docker.containerRemove(id, { force: true }).catch((error) => {
      if (!(error instanceof DockerError && error.notFound)) throw error;
    });
  }
}

/** Runs `fn` with a client; containers whose ids it adds to `ids` are removed after, pass or fail. */
async function withContainers(
  fn: (docker: DockerClient, ids: string[]) => Promise<void>,
  make: () => DockerClient = client,
): Promise<void> {
  await ensureTestImage();
  await using docker = make();
  const ids: string[] = [];
  try {
    await fn(docker, ids);
  } finally {
    await removeAll(docker, ids);
  }
}

Deno.test({
  name: "DockerClient.ping() and version() talk to the engine",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await using docker = client();
    const ping = await docker.ping();
    assert.match(ping.apiVersion ?? "", /^1\.\d+$/);
    assert.equal(ping.osType, "linux");
    const version = await docker.version();
    assert.equal(version.ApiVersion, ping.apiVersion);
    assert.ok(version.Version.length > 0);
    assert.match(docker.apiVersion ?? "", /^1\.\d+$/);
    assert.equal(await docker.negotiateApiVersion(), docker.apiVersion);
  },
});

Deno.test({
  name: "DockerClient creates, starts, waits for, reads logs of and removes a container",
  ignore: ignoreWithoutDocker,
  fn: () =>
    withContainers(async (docker, ids) => {
      const name = uniqueName();
      const { Id } = await docker.containerCreate(
        spec("console.log('hi'); console.error('err'); Deno.exit(3)", {
          Env: ["FLAME_X=1"],
          Hostname: "flame-host",
        }),
        { name },
      );
      ids.push(Id);
      const created = await docker.containerInspect(name);
      assert.equal(created.Id, Id);
      assert.equal(created.Name, `/${name}`);
      assert.equal(created.State.Status, "created");
      assert.equal(created.Config.Hostname, "flame-host");
      assert.ok(created.Config.Env?.includes("FLAME_X=1"));
      assert.equal(created.Config.Labels?.[TEST_LABEL], RUN);

      assert.equal(await docker.containerStart(Id), true);
      const { StatusCode } = await docker.containerWait(Id);
      assert.equal(StatusCode, 3);
      assert.deepEqual(await collectLogs(docker.containerLogs(Id)), {
        stdout: "hi\n",
        stderr: "err\n",
      });
      assert.deepEqual(await collectLogs(docker.containerLogs(Id, { stderr: false })), {
        stdout: "hi\n",
        stderr: "",
      });
      const exited = await docker.containerInspect(Id);
      assert.equal(exited.State.Status, "exited");
      assert.equal(exited.State.ExitCode, 3);
      assert.equal(await docker.containerStop(Id), false, "already stopped: 304");

      await docker.containerRemove(Id);
      const gone = await docker.containerInspect(Id).catch((e) => e);
      assert.ok(gone instanceof DockerError && gone.notFound);
      assert.match(gone.message, /^Cannot inspect container "[0-9a-f]{64}": /);
    }),
});

Deno.test({
  name: "DockerClient reads the raw stream of a TTY container and follows logs",
  ignore: ignoreWithoutDocker,
  fn: () =>
    withContainers(async (docker, ids) => {
      const tty = await docker.containerCreate(
        spec("console.log('tty out'); console.error('tty err')", { Tty: true }),
      );
      ids.push(tty.Id);
      await docker.containerStart(tty.Id);
      await docker.containerWait(tty.Id);
      const logs = await collectLogs(docker.containerLogs(tty.Id));
      assert.equal(logs.stderr, "");
      assert.match(logs.stdout, /tty out\r?\n/);
      assert.match(logs.stdout, /tty err/);

      const ticking = await docker.containerCreate(
        spec(
          "for (let i = 0; i < 3; i++) { console.log('tick ' + i); await new Promise((r) => setTimeout(r, 100)); }",
        ),
      );
      ids.push(ticking.Id);
      await docker.containerStart(ticking.Id);
      const followed = await collectLogs(
        docker.containerLogs(ticking.Id, { follow: true, timeout: 30_000 }),
      );
      assert.equal(followed.stdout, "tick 0\ntick 1\ntick 2\n");
    }),
});

Deno.test({
  name: "DockerClient.containerList() filters by label",
  ignore: ignoreWithoutDocker,
  fn: () =>
    withContainers(async (docker, ids) => {
      const mark = `${TEST_LABEL}.list`;
      const value = crypto.randomUUID();
      for (let i = 0; i < 2; i++) {
        const body = spec("0");
        body.Labels = { ...body.Labels, [mark]: value, index: String(i) };
        ids.push((await docker.containerCreate(body)).Id);
      }
      const running = await docker.containerList({ filters: { label: [`${mark}=${value}`] } });
      assert.equal(running.length, 0, "created containers are not running");
      const all = await docker.containerList({
        all: true,
        filters: { label: [`${mark}=${value}`] },
      });
      assert.deepEqual(all.map((c) => c.Id).sort(), [...ids].sort());
      assert.ok(all.every((c) => c.Labels[mark] === value && c.State === "created"));
      const both = await docker.containerList({
        all: true,
        filters: { label: [`${mark}=${value}`, "index=1"] },
      });
      assert.deepEqual(both.map((c) => c.Id), [ids[1]]);
      const byKey = await docker.containerList({ all: true, filters: { label: [mark] } });
      assert.ok(ids.every((id) => byKey.some((c) => c.Id === id)));
    }),
});

Deno.test({
  name: "DockerClient reports a missing image as 404 and a taken name as 409",
  ignore: ignoreWithoutDocker,
  fn: () =>
    withContainers(async (docker, ids) => {
      const missing = await docker.imageInspect("flame-docker-no-such-image:never").catch((e) => e);
      assert.ok(missing instanceof DockerError);
      assert.equal(missing.status, 404);
      assert.ok(missing.notFound && !missing.conflict);
      assert.equal(missing.method, "GET");
      assert.match(missing.path, /^\/v1\.\d+\/images\/flame-docker-no-such-image:never\/json$/);
      assert.match(
        missing.message,
        /^Cannot inspect image "flame-docker-no-such-image:never": .*no such image/i,
      );
      assert.ok((await docker.imageInspect(TEST_IMAGE)).Id.startsWith("sha256:"));

      const name = uniqueName();
      ids.push((await docker.containerCreate(spec("0"), { name })).Id);
      const taken = await docker.containerCreate(spec("0"), { name }).catch((e) => e);
      assert.ok(taken instanceof DockerError);
      assert.equal(taken.status, 409);
      assert.ok(taken.conflict && !taken.notFound);
      assert.ok(taken.message.startsWith(`Cannot create container "${name}": `));
      assert.match(taken.engineMessage, /already in use/);
    }),
});

Deno.test({
  name: "DockerClient.imagePull() fails clearly, in bounded time, when the registry refuses",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await using docker = client();
    const started = performance.now();
    // A loopback port that refuses: nothing leaves the machine.
    const image = "127.0.0.1:1/flame-nope:latest";
    const error = await (async () => {
      for await (const _ of docker.imagePull(image, { timeout: 60_000 })) { /* drain */ }
    })().catch((e) => e);
    assert.ok(error instanceof DockerError, String(error));
    assert.ok(error.message.startsWith(`Cannot pull image "${image}": `), error.message);
    assert.match(error.engineMessage, /127\.0\.0\.1:1/);
    assert.ok(performance.now() - started < 30_000);
    assert.equal(docker.connections.busy, 0);
  },
});

Deno.test({
  name: "DockerClient serves 50 concurrent requests over a bounded pool",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await using docker = new DockerClient({ socketPath: DOCKER_SOCKET, maxIdleConnections: 8 });
    await docker.ping();
    const results = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) =>
          i % 3 === 0
            ? docker.ping().then((p) => p.apiVersion !== undefined)
            : i % 3 === 1
            ? docker.networkInspect("bridge").then((n) => n.Name === "bridge")
            : docker.containerList({ filters: { label: [`${TEST_LABEL}=${RUN}`] } }).then(
              Array.isArray,
            ),
      ),
    );
    assert.ok(results.every(Boolean));
    assert.equal(docker.connections.busy, 0);
    assert.ok(docker.connections.idle <= 8, `idle ${docker.connections.idle}`);
    // Warm connections are reused from here on.
    for (let i = 0; i < 20; i++) await docker.ping();
    assert.ok(docker.connections.idle >= 1 && docker.connections.idle <= 8);
  },
});

Deno.test({
  name: "DockerClient leaves no broken connection behind after aborted and timed-out calls",
  ignore: ignoreWithoutDocker,
  fn: () =>
    withContainers(async (docker, ids) => {
      const { Id } = await docker.containerCreate(
        spec("await new Promise((r) => setTimeout(r, 60_000))"),
      );
      ids.push(Id);
      await docker.containerStart(Id);
      for (let i = 0; i < 5; i++) {
        await assert.rejects(
          docker.containerWait(Id, { timeout: 50 }),
          (e) => e instanceof DOMException && e.name === "TimeoutError",
        );
        const controller = new AbortController();
        const waiting = docker.containerWait(Id, { signal: controller.signal });
        setTimeout(() => controller.abort(new Error("Cancelled by the test")), 30);
        await assert.rejects(waiting, { message: "Cancelled by the test" });
        const follow = docker.containerLogs(Id, { follow: true, tty: false, timeout: 50 });
        await assert.rejects(collectLogs(follow), { name: "TimeoutError" });
        assert.equal((await docker.containerInspect(Id)).State.Running, true);
        assert.equal(docker.connections.busy, 0);
        assert.ok(docker.connections.idle <= 4);
      }
      await docker.containerKill(Id);
      const { StatusCode } = await docker.containerWait(Id, { timeout: 30_000 });
      assert.equal(StatusCode, 137);
      const notRunning = await docker.containerKill(Id).catch((e) => e);
      assert.ok(notRunning instanceof DockerError && notRunning.conflict);
    }, () => new DockerClient({ socketPath: DOCKER_SOCKET, maxIdleConnections: 4 })),
});

Deno.test({
  name: "DockerClient.networkInspect() reads the bridge network and reports a missing one",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await using docker = client();
    const bridge = await docker.networkInspect("bridge");
    assert.equal(bridge.Name, "bridge");
    assert.equal(bridge.Driver, "bridge");
    assert.match(bridge.IPAM.Config?.[0]?.Subnet ?? "", /^\d+\.\d+\.\d+\.\d+\/\d+$/);
    const missing = await docker.networkInspect(`flame-no-such-network-${RUN}`).catch((e) => e);
    assert.ok(missing instanceof DockerError && missing.notFound);
    assert.equal(
      missing.message,
      `Cannot inspect network "flame-no-such-network-${RUN}": ${missing.engineMessage}`,
    );
  },
});

Deno.test({
  name: "DockerClient.events() tells how a container already removed ended (its die event)",
  ignore: ignoreWithoutDocker,
  fn: () =>
    withContainers(async (docker, ids) => {
      const since = Date.now() / 1000 - 1;
      const { Id } = await docker.containerCreate(
        spec("Deno.exit(3)", { HostConfig: { NetworkMode: "none", AutoRemove: true } }),
        { name: uniqueName() },
      );
      ids.push(Id);
      const removed = docker.containerWait(Id, { condition: "removed", timeout: 30_000 });
      await docker.containerStart(Id);
      assert.equal((await removed).StatusCode, 3);
      await assert.rejects(docker.containerInspect(Id), (e) =>
        e instanceof DockerError && e.notFound);
      const events = await docker.events({
        since,
        filters: { container: [Id], event: ["die"] },
        timeout: 10_000,
      });
      assert.equal(events.length, 1, JSON.stringify(events));
      assert.equal(events[0]!.Action, "die");
      assert.equal(events[0]!.Actor.ID, Id);
      assert.equal(events[0]!.Actor.Attributes?.exitCode, "3");
      // A window before it holds none.
      assert.deepEqual(
        await docker.events({ since: since - 60, until: since - 30, filters: { container: [Id] } }),
        [],
      );
    }),
});
