/**
 * API versions: the client against the real engine (20.10, API 1.41), and
 * against engines that answer as Docker 29 (API 1.44-1.52, the inspect
 * fields 1.52 removed gone) and as a future engine whose minimum is above
 * this client's maximum. Those are a real HTTP server of our own in front of
 * the real engine (tests/_helpers/engine_front.ts): every container still
 * runs on the real engine.
 */

import assert from "node:assert/strict";
import { DockerBackend, Pool } from "../../mod.ts";
import {
  DockerClient,
  DockerError,
  DockerProtocolError,
  MAX_API_VERSION,
} from "../../src/docker/mod.ts";
import { LABEL_POOL } from "../../src/backends/docker/labels.ts";
import {
  containersOfPool,
  createFileNetwork,
  docker,
  DOCKER_SOCKET,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
} from "../_helpers/docker.ts";
import { type RunningFront, startEngineFront } from "../_helpers/engine_front.ts";
import { definePoolSuite } from "../_helpers/pool_suite.ts";
import { waitForAsync } from "../_helpers/backends.ts";

const suffix = crypto.randomUUID().slice(0, 8);
const NETWORK = `flame-test-v52-${suffix}`;
const DOCKER_29 = {
  apiVersion: "1.52",
  minApiVersion: "1.44",
  engineVersion: "29.0.0",
  upstream: DOCKER_SOCKET,
  upstreamApiVersion: "1.41",
  reshape: true,
};

let front: RunningFront | undefined;
if (!ignoreWithoutDocker) {
  await ensureTestImage();
  await createFileNetwork(NETWORK);
  front = await startEngineFront(DOCKER_29);
}

const backend = () =>
  new DockerBackend({ image: TEST_IMAGE, network: NETWORK, dockerSocketPath: front!.path });

async function assertNothingLeft(pool: string): Promise<void> {
  const clean = await waitForAsync(async () => (await containersOfPool(pool)).length === 0, 5000);
  const left = await containersOfPool(pool);
  if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
  assert.ok(clean, `containers left behind by pool "${pool}": ${left.join(", ")}`);
}

Deno.test({
  name: "[docker] the real engine is spoken to at its own version (≤ the client's maximum)",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await using client = new DockerClient({ socketPath: DOCKER_SOCKET });
    const version = await client.version();
    assert.equal(client.apiVersion, version.ApiVersion);
    assert.ok(MAX_API_VERSION >= version.ApiVersion);
  },
});

Deno.test({
  name:
    "[docker29] the client negotiates API 1.52 with a Docker 29 engine; every request is /v1.52",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await using client = new DockerClient({ socketPath: front!.path });
    assert.equal((await client.ping()).apiVersion, "1.52");
    const version = await client.version();
    assert.deepEqual([version.Version, version.ApiVersion, version.MinAPIVersion], [
      "29.0.0",
      "1.52",
      "1.44",
    ]);
    assert.equal(client.apiVersion, "1.52");
    await client.containerList({ all: true });
    await client.networkInspect(NETWORK);
    const image = await client.imageInspect(TEST_IMAGE);
    assert.equal(image.Id.startsWith("sha256:"), true);
    const seen = await front!.requests();
    const versioned = seen.filter((r) => /^\w+ \/v\d/.test(r));
    assert.ok(versioned.length >= 4, seen.join("\n"));
    assert.deepEqual(versioned.filter((r) => !/^\w+ \/v1\.52\//.test(r)), []);
  },
});

Deno.test({
  name: "[docker29] a client pinned to API 1.41 gets Docker 29's refusal, explained",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await using client = new DockerClient({ socketPath: front!.path, apiVersion: "1.41" });
    const error = await client.containerList().catch((e) => e);
    assert.ok(error instanceof DockerError && error.status === 400, String(error));
    assert.match(error.engineMessage, /client version 1\.41 is too old/);
    assert.match(error.message, /accepts API 1\.44 and newer; this client speaks 1\.24 to 1\.52/);
    assert.match(error.message, /remove the apiVersion option "1\.41"/);
  },
});

Deno.test({
  name:
    "[docker] an engine whose minimum is above 1.52 is refused naming both ranges, before any container call",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const future = await startEngineFront({
      ...DOCKER_29,
      apiVersion: "1.70",
      minApiVersion: "1.60",
      engineVersion: "40.0.0",
    });
    try {
      await using client = new DockerClient({ socketPath: future.path });
      const error = await client.containerList().catch((e) => e);
      assert.ok(error instanceof DockerProtocolError, String(error));
      assert.match(
        error.message,
        /it speaks API 1\.60 to 1\.70, this client 1\.24 to 1\.52; upgrade flame-docker/,
      );
      const name = `t-v70-${suffix}`;
      await using pool = new Pool({
        backend: new DockerBackend({
          image: TEST_IMAGE,
          network: NETWORK,
          dockerSocketPath: future.path,
        }),
        max: 1,
        name,
        bootTimeout: 10_000,
      });
      const boot = await pool.call(() => 1).catch((e) => e);
      assert.match(String(boot?.message), /1\.60 to 1\.70/);
      assert.deepEqual(await containersOfPool(name), []);
      assert.deepEqual(
        (await future.requests()).filter((r) => /^\w+ \/v\d/.test(r)),
        [],
        "no versioned request reached the engine",
      );
    } finally {
      await future.close();
    }
  },
});

// Every pool semantic, with runner containers booted through the Docker 29 front.
definePoolSuite({
  kind: "docker29",
  make: backend,
  ignore: ignoreWithoutDocker,
  after: () => assertNothingLeft("t-docker29"),
});

Deno.test({
  name: "[docker29] teardown: the front stops, the network is removed, nothing of ours is left",
  ignore: ignoreWithoutDocker,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const seen = await front!.requests();
    await front!.close();
    assert.ok(
      seen.some((r) => r.startsWith("POST /v1.52/containers/create")),
      "boots went through",
    );
    await docker("network", "rm", NETWORK);
    const ours = await docker("ps", "-aq", "--filter", `label=${LABEL_POOL}=t-docker29`);
    assert.equal(ours, "");
  },
});
