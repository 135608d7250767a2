/**
 * DockerBackend against the real engine: the shared pool suite, then the
 * failure modes. After each test nothing of ours is left on the engine.
 */

import assert from "node:assert/strict";
import { BootError, DockerBackend, type FlameEvent, Pool } from "../../mod.ts";
import { LABEL_POOL, LABEL_PROJECT } from "../../src/backends/docker/labels.ts";
import { sleep, waitForAsync } from "../_helpers/backends.ts";
import {
  containersOfPool,
  createFileNetwork,
  docker,
  DOCKER_SOCKET,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
} from "../_helpers/docker.ts";
import { definePoolSuite } from "../_helpers/pool_suite.ts";

const suffix = crypto.randomUUID().slice(0, 8);
const NETWORK = `flame-test-${suffix}`;
const SUITE_POOL = `t-docker`;

if (!ignoreWithoutDocker) {
  await ensureTestImage();
  await createFileNetwork(NETWORK);
}

const containersOf = containersOfPool;

/** Asserts a pool left nothing (waiting briefly for removals under way), then cleans up regardless. */
async function assertNothingLeft(pool: string): Promise<void> {
  const clean = await waitForAsync(async () => (await containersOf(pool)).length === 0, 5000);
  const left = await containersOf(pool);
  if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
  assert.ok(clean, `containers left behind by pool "${pool}": ${left.join(", ")}`);
}

const backend = (options: Partial<ConstructorParameters<typeof DockerBackend>[0]> = {}) =>
  new DockerBackend({ image: TEST_IMAGE, network: NETWORK, ...options });

/**
 * A Docker test with a pool name of its own (`t-docker-<slug>-…`): afterwards,
 * pass or fail, nothing of that pool may be left.
 */
function dockerPoolTest(title: string, slug: string, fn: (name: string) => Promise<void>): void {
  Deno.test({
    name: `[docker] ${title}`,
    ignore: ignoreWithoutDocker,
    fn: async () => {
      const name = `t-docker-${slug}-${suffix}`;
      try {
        await fn(name);
      } finally {
        await assertNothingLeft(name);
      }
    },
  });
}

definePoolSuite({
  kind: "docker",
  make: () => backend(),
  ignore: ignoreWithoutDocker,
  after: () => assertNothingLeft(SUITE_POOL),
});

dockerPoolTest(
  "runner containers are named, labelled and joined to the network",
  "meta",
  async (name) => {
    const b = backend({ app: "myapp", env: { EXTRA: "1", NO_COLOR: "0" } });
    await using pool = new Pool({ backend: b, max: 1, name });
    const seen = await pool.call(() => ({
      host: Deno.hostname(),
      hostnameEnv: Deno.env.get("HOSTNAME"),
      extra: Deno.env.get("EXTRA"),
      noColor: Deno.env.get("NO_COLOR"),
      flameRunner: Deno.env.get("FLAME_RUNNER"),
    }));
    assert.match(seen.host, /^myapp-flame-[0-9a-f]{20}$/);
    assert.equal(seen.hostnameEnv, seen.host);
    assert.equal(seen.extra, "1");
    assert.equal(seen.noColor, "0", "user env overrides the defaults");
    assert.equal(seen.flameRunner, "1");
    const [id] = await containersOf(name);
    const inspect = JSON.parse(await docker("inspect", id!))[0];
    assert.equal(inspect.Name, `/${seen.host}`);
    assert.equal(inspect.Config.Labels[LABEL_PROJECT], "runner");
    assert.equal(inspect.Config.Labels[LABEL_POOL], name);
    assert.equal(inspect.Config.Labels["dev.flame-docker.parent"], b.instanceId);
    assert.equal(inspect.HostConfig.AutoRemove, true);
    assert.ok(NETWORK in inspect.NetworkSettings.Networks);
  },
);

dockerPoolTest("hostConfig, mounts and cmd pass through to the container", "pass", async (name) => {
  const cmd = ["/usr/local/bin/deno", "run", "--allow-all", "--no-prompt", "runner.ts"];
  await using pool = new Pool({
    backend: backend({
      hostConfig: { Memory: 512 * 1024 * 1024, Init: true },
      mounts: [{ Type: "tmpfs", Target: "/scratch" }],
      cmd,
    }),
    max: 1,
    name,
  });
  // The tmpfs is writable from the runner.
  const wrote = await pool.call(async () => {
    await Deno.writeTextFile("/scratch/x", "ok");
    return await Deno.readTextFile("/scratch/x");
  });
  assert.equal(wrote, "ok");
  const [id] = await containersOf(name);
  const inspect = JSON.parse(await docker("inspect", id!))[0];
  assert.deepEqual(inspect.Config.Cmd, cmd);
  assert.equal(inspect.HostConfig.Memory, 512 * 1024 * 1024);
  assert.equal(inspect.HostConfig.Init, true);
  assert.equal(inspect.HostConfig.AutoRemove, true, "AutoRemove stays the backend's");
  assert.equal(inspect.HostConfig.NetworkMode, NETWORK, "NetworkMode stays the backend's");
  assert.deepEqual(
    inspect.HostConfig.Mounts.map((m: { Type: string; Target: string }) => [m.Type, m.Target]),
    [["tmpfs", "/scratch"]],
  );
});

dockerPoolTest(
  "a missing image that cannot be pulled fails the boot clearly, in bounded time",
  "noimg",
  async (name) => {
    // A registry on a closed loopback port: the pull fails at once, no outside traffic.
    await using pool = new Pool({
      backend: backend({ image: "127.0.0.1:1/flame-missing:latest" }),
      max: 1,
      name,
    });
    const started = Date.now();
    const err = await pool.call(() => 1).catch((e) => e);
    assert.ok(err instanceof BootError, String(err));
    assert.match(err.message, /127\.0\.0\.1:1\/flame-missing/);
    assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
  },
);

dockerPoolTest("a missing network fails before any container is created", "nonet", async (name) => {
  await using pool = new Pool({
    backend: backend({ network: `flame-no-such-net-${suffix}` }),
    max: 1,
    name,
  });
  const err = await pool.call(() => 1).catch((e) => e);
  assert.ok(err instanceof BootError, String(err));
  assert.match(err.message, /network "flame-no-such-net-[0-9a-f]+": it does not exist/);
  assert.deepEqual(await containersOf(name), []);
});

Deno.test({
  name: "[docker] a missing socket gives an error naming the path",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await using pool = new Pool({
      backend: backend({ dockerSocketPath: "/nonexistent/flame/docker.sock" }),
      max: 1,
      name: `t-docker-nosock-${suffix}`,
    });
    const err = await pool.call(() => 1).catch((e) => e);
    assert.ok(err instanceof BootError, String(err));
    assert.match(err.message, /\/nonexistent\/flame\/docker\.sock/);
    assert.match(err.message, /missing|not found|No such file/i);
  },
});

Deno.test({
  name: "[docker] a socket without permission gives an error naming the path and the cause",
  ignore: ignoreWithoutDocker || Deno.uid() !== 0,
  fn: async () => {
    // Run a parent as "nobody": the engine socket is root-only, so the connect is denied.
    const script = `
      import { DockerBackend, Pool } from "${import.meta.resolve("../../mod.ts")}";
      await using pool = new Pool({
        backend: new DockerBackend({ image: "x", network: "y", dockerSocketPath: "${DOCKER_SOCKET}" }),
        max: 1,
      });
      const err = await pool.call(() => 1).catch((e) => e);
      console.log(JSON.stringify({ name: err.name, cause: String(err.cause?.message ?? "") }));
    `;
    const dir = await Deno.makeTempDir();
    try {
      await Deno.chmod(dir, 0o755);
      const file = `${dir}/parent.ts`;
      await Deno.writeTextFile(file, script);
      await Deno.chmod(file, 0o644);
      const out = await new Deno.Command("setpriv", {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          Deno.execPath(),
          "run",
          "-A",
          "--no-config",
          file,
        ],
        env: { DENO_DIR: `${dir}/deno`, HOME: dir },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const result = JSON.parse(text.split("\n").pop()!);
      assert.equal(result.name, "BootError");
      assert.match(result.cause, new RegExp(DOCKER_SOCKET.replaceAll("/", "\\/")));
      assert.match(result.cause, /permission denied/i);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "[docker] keepRunners leaves exited containers for inspection",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const name = `t-docker-keep-${suffix}`;
    try {
      {
        await using pool = new Pool({ backend: backend({ keepRunners: true }), max: 1, name });
        assert.equal(await pool.call(() => "kept"), "kept");
      }
      const ids = await containersOf(name);
      assert.equal(ids.length, 1);
      const state = JSON.parse(await docker("inspect", ids[0]!))[0].State;
      assert.equal(state.Running, false);
    } finally {
      const left = await containersOf(name);
      if (left.length > 0) await docker("rm", "-f", ...left);
    }
  },
});

async function startParent(pool: string, min: number, keep: boolean) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../fixtures/docker_parent.ts", import.meta.url).pathname,
      TEST_IMAGE,
      NETWORK,
      pool,
      String(min),
      String(keep),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  await reader.cancel();
  return { child, ready: JSON.parse(text.split("\n")[0]!) as { hostnames: string[] } };
}

dockerPoolTest("a SIGKILLed parent leaves no runner container behind", "kill", async (name) => {
  const { child, ready } = await startParent(name, 5, false);
  assert.equal(ready.hostnames.length, 5);
  assert.equal((await containersOf(name)).length, 5);
  const killedAt = Date.now();
  child.kill("SIGKILL");
  await child.status;
  let gone = false;
  while (Date.now() - killedAt < 2000 + 5000) {
    if ((await containersOf(name)).length === 0) {
      gone = true;
      break;
    }
    await sleep(100);
  }
  console.log(`  5 runner containers gone ${Date.now() - killedAt} ms after SIGKILL`);
  assert.ok(gone, "runner containers survived their parent");
});

Deno.test({
  name: "[docker] reap() removes what a dead parent left, and never a live parent's runners",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const dead = `t-docker-reap-${suffix}`;
    const live = `t-docker-live-${suffix}`;
    try {
      const { child } = await startParent(dead, 2, true);
      child.kill("SIGKILL");
      await child.status;
      assert.equal((await containersOf(dead)).length, 2);
      const b = backend();
      await using pool = new Pool({ backend: b, max: 1, name: live });
      await pool.call(() => 1);
      const removed = await b.reap({ pool: dead });
      assert.equal(removed, 2);
      assert.deepEqual(await containersOf(dead), []);
      assert.equal((await containersOf(live)).length, 1, "the live pool's runner stays");
      assert.equal(await pool.call(() => 2), 2);
    } finally {
      await assertNothingLeft(dead);
      await assertNothingLeft(live);
    }
  },
});

dockerPoolTest(
  "a new pool removes what a dead parent of the same name left, and says so",
  "autoreap",
  async (name) => {
    const { child } = await startParent(name, 2, true);
    child.kill("SIGKILL");
    await child.status;
    assert.equal((await containersOf(name)).length, 2);
    const events: FlameEvent[] = [];
    await using pool = new Pool({
      backend: backend(),
      max: 1,
      name,
      onEvent: (e) => events.push(e),
    });
    assert.equal(await pool.call(() => "fresh"), "fresh");
    assert.ok(
      await waitForAsync(async () => (await containersOf(name)).length === 1, 10_000),
      "the dead parent's two containers were not reaped",
    );
    const reap = events.find((e) => e.name === "flame.runner.reap");
    assert.equal(reap?.attributes["flame.count"], 2);
    const phases = events.filter((e) => e.name === "flame.runner.boot.phase")
      .map((e) => e.attributes["flame.phase"]);
    assert.deepEqual(phases, ["image", "created", "started", "authenticated"]);
    const end = events.find((e) => e.name === "flame.call.end");
    assert.equal(end?.attributes["flame.ok"], true);
    assert.match(String(end?.attributes["flame.runner.id"]), new RegExp(`^${name}-`));
  },
);

Deno.test({
  name: "DockerBackend() rejects invalid options naming the option",
  fn: () => {
    assert.throws(() => new DockerBackend({ image: "" }), /"image"/);
    assert.throws(() => new DockerBackend({ image: "x", network: " " }), /"network"/);
    assert.throws(
      () => new DockerBackend({ image: "x", network: "n", env: { FLAME_PARENT: "x" } }),
      /FLAME_PARENT is set by the pool .* cannot be overridden/,
    );
    assert.throws(
      () => new DockerBackend({ image: "x", network: "n", env: { A: 1 as unknown as string } }),
      /"env"/,
    );
    assert.throws(
      () => new DockerBackend({ image: "x", network: "n", cmd: "run" as unknown as string[] }),
      /"cmd"/,
    );
    assert.throws(
      () => new DockerBackend({ image: "x", network: "n", startTimeout: 0 }),
      RangeError,
    );
    assert.throws(() => new DockerBackend({ image: "x", network: "n", app: "bad app" }), /"app"/);
    assert.throws(
      () => new DockerBackend({ image: "x", network: "n", pull: "always" as "never" }),
      /"pull"/,
    );
  },
});

Deno.test({
  name: "[docker] teardown: the test network is removed and nothing of ours is left",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await docker("network", "rm", NETWORK);
    const ours = await docker(
      "ps",
      "-a",
      "-q",
      "--filter",
      `label=${LABEL_PROJECT}`,
      "--filter",
      `network=${NETWORK}`,
    );
    assert.equal(ours, "");
  },
});
