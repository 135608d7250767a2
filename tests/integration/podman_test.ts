/**
 * DockerBackend against Podman's Docker-compatible API service (Debian's
 * podman 4.3.1 in CI, as root, netavark networks): the shared pool suite with
 * default options, the engine recognised and its status codes read as
 * Docker's, a runner that cannot start, a SIGKILLed parent, and
 * Docker-out-of-Docker with the parent in a podman container. After each test
 * nothing of ours is left on podman.
 */

import assert from "node:assert/strict";
import { BootError, DockerBackend, Pool } from "../../mod.ts";
import { DockerClient, DockerError } from "../../src/docker/mod.ts";
import { sleep, waitForAsync } from "../_helpers/backends.ts";
import { ensureTestImage, TEST_IMAGE, TEST_LABEL } from "../_helpers/docker.ts";
import { definePoolSuite } from "../_helpers/pool_suite.ts";
import {
  createPodmanNetwork,
  ensurePodmanImage,
  ignoreWithoutPodman,
  podman,
  PODMAN_SOCKET,
  podmanContainersOfPool,
  podmanTestContainers,
} from "../_helpers/podman.ts";

const suffix = crypto.randomUUID().slice(0, 8);
const NETWORK = `flame-pm-${suffix}`;
const SUITE_POOL = "t-podman";

if (!ignoreWithoutPodman) {
  await ensureTestImage();
  await ensurePodmanImage();
  await createPodmanNetwork(NETWORK);
}

const backend = (options: Partial<ConstructorParameters<typeof DockerBackend>[0]> = {}) =>
  new DockerBackend({
    image: TEST_IMAGE,
    network: NETWORK,
    dockerSocketPath: PODMAN_SOCKET,
    ...options,
  });

/** Asserts a pool left nothing on podman (waiting briefly for removals under way), then cleans up regardless. */
async function assertNothingLeft(pool: string): Promise<void> {
  const clean = await waitForAsync(
    async () => (await podmanContainersOfPool(pool)).length === 0,
    5000,
  );
  const left = await podmanContainersOfPool(pool);
  if (left.length > 0) await podman("rm", "-f", ...left).catch(() => {});
  assert.ok(clean, `containers left behind on podman by pool "${pool}": ${left.join(", ")}`);
}

/** A podman test with a pool name of its own; afterwards, pass or fail, nothing of that pool may be left. */
function podmanPoolTest(title: string, slug: string, fn: (name: string) => Promise<void>): void {
  Deno.test({
    name: `[podman] ${title}`,
    ignore: ignoreWithoutPodman,
    fn: async () => {
      const name = `t-podman-${slug}-${suffix}`;
      try {
        await fn(name);
      } finally {
        await assertNothingLeft(name);
      }
    },
  });
}

// Default options: no parentHost, no listenHost. Podman brings the network's
// bridge up only with its first container; the pool must still boot.
definePoolSuite({
  kind: "podman",
  make: () => backend(),
  ignore: ignoreWithoutPodman,
  after: () => assertNothingLeft(SUITE_POOL),
});

Deno.test({
  name: "[podman] the engine is recognised, and its 500s read as Docker's 404 and 409",
  ignore: ignoreWithoutPodman,
  fn: async () => {
    await using client = new DockerClient({ socketPath: PODMAN_SOCKET });
    const ping = await client.ping();
    assert.equal(ping.engine, "podman");
    assert.match(ping.podmanVersion ?? "", /^\d+\.\d+/);
    const version = await client.version();
    assert.ok(version.Components?.some((c) => c.Name === "Podman Engine"));

    const name = `flame-pm-conflict-${suffix}`;
    const body = { Image: TEST_IMAGE, Cmd: ["/nonexistent"], Labels: { [TEST_LABEL]: "1" } };
    await client.containerCreate(body, { name });
    try {
      // A name in use: podman answers 500 with cause "that name is already in use".
      const taken = await client.containerCreate(body, { name }).then(() => null, (e) => e);
      assert.ok(taken instanceof DockerError, String(taken));
      assert.ok(taken.conflict, `${taken.status} ${taken.engineCause}: ${taken.message}`);
      // Killing a container that never ran: 500 "container state improper" (Docker: 409).
      const kill = await client.containerKill(name).then(() => null, (e) => e);
      assert.ok(kill instanceof DockerError && kill.conflict, String(kill));
    } finally {
      await client.containerRemove(name, { force: true });
    }
    const gone = await client.containerInspect(name).then(() => null, (e) => e);
    assert.ok(gone instanceof DockerError && gone.notFound, String(gone));
    assert.ok(!gone.conflict);
  },
});

podmanPoolTest(
  "a runner that cannot start fails its boot with the cause, promptly",
  "nostart",
  async (name) => {
    const started = Date.now();
    {
      await using pool = new Pool({
        backend: backend({ cmd: ["/nonexistent"] }),
        max: 1,
        name,
        bootTimeout: 20_000,
      });
      const err = await pool.call(() => 1, [], { timeout: 25_000 }).then(() => null, (e) => e);
      assert.ok(err instanceof BootError, String(err));
      assert.match(String(err.message), /nonexistent/);
      assert.ok(Date.now() - started < 10_000, `BootError after ${Date.now() - started} ms`);
    }
    // close() (the block's end) did not wait for the never-started container.
    assert.ok(Date.now() - started < 15_000, `closed after ${Date.now() - started} ms`);
  },
);

podmanPoolTest("a SIGKILLed parent leaves no runner container behind", "kill", async (name) => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../fixtures/docker_parent.ts", import.meta.url).pathname,
      TEST_IMAGE,
      NETWORK,
      name,
      "3",
      "false",
      PODMAN_SOCKET,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
    assert.equal(JSON.parse(text.split("\n")[0]!).hostnames.length, 3, text);
    assert.equal((await podmanContainersOfPool(name)).length, 3);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
  const killedAt = Date.now();
  let gone = false;
  while (Date.now() - killedAt < 10_000) {
    if ((await podmanContainersOfPool(name)).length === 0) {
      gone = true;
      break;
    }
    await sleep(200);
  }
  console.log(`  3 runner containers gone ${Date.now() - killedAt} ms after SIGKILL`);
  assert.ok(gone, "runner containers survived their parent");
});

Deno.test({
  name: "[podman] Podman-out-of-Podman: a parent in a podman container infers image and network",
  ignore: ignoreWithoutPodman,
  fn: async () => {
    const parent = `${NETWORK}-parent`;
    try {
      await podman(
        "run",
        "-d",
        "--pull",
        "never",
        "--name",
        parent,
        "--label",
        TEST_LABEL,
        "--network",
        NETWORK,
        "-v",
        `${PODMAN_SOCKET}:/var/run/docker.sock`,
        TEST_IMAGE,
        "/usr/local/bin/deno",
        "run",
        "--allow-all",
        new URL("../e2e/dood_parent.ts", import.meta.url).pathname,
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      const code = await Promise.race([
        podman("wait", parent),
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve("still running after 120 s"), 120_000);
        }),
      ]).finally(() => clearTimeout(timer));
      const logs = await podman("logs", parent).catch((e) => String(e));
      assert.equal(code, "0", `parent failed (${code}):\n${logs}`);
      const last = logs.split("\n").filter((l) => l.startsWith("{")).pop();
      assert.ok(last, logs);
      const result = JSON.parse(last);
      assert.equal(result.sum, 42);
      assert.deepEqual(result.streamed, [0, 1, 2, 3, 4]);
      const hostnames = result.hostnames as string[];
      for (const h of hostnames) assert.match(h, new RegExp(`^${parent}-flame-[0-9a-f]{20}$`));
      assert.equal(new Set(hostnames).size, 2);
    } finally {
      await podman("rm", "-f", parent).catch(() => {});
    }
    const left = await podman("ps", "-a", "-q", "--filter", "label=dev.flame-docker.pool=dood");
    assert.equal(left, "", "runner containers left behind");
  },
});

Deno.test({
  name: "[podman] doctor names Podman and the true cause of the gateway that is not up yet",
  ignore: ignoreWithoutPodman,
  fn: async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../cli.ts", import.meta.url).pathname,
        "doctor",
        "--socket",
        PODMAN_SOCKET,
        "--network",
        NETWORK,
        "--image",
        TEST_IMAGE,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /✓ Podman \d+\.\d+\.\d+ \(Docker-compatible API\)/);
    assert.match(
      text,
      /Podman brings up the bridge of "flame-pm-[0-9a-f]+" \(gateway [0-9.]+\) only when its first container joins/,
    );
    assert.doesNotMatch(text, /runs in a VM/);
  },
});

Deno.test({
  name: "[podman] teardown: the test network is removed and nothing of ours is left",
  ignore: ignoreWithoutPodman,
  fn: async () => {
    const left = await podmanTestContainers();
    if (left.length > 0) await podman("rm", "-f", ...left).catch(() => {});
    await podman("network", "rm", "-f", NETWORK);
    assert.deepEqual(left, [], "containers left on podman");
  },
});
