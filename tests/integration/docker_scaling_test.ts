/**
 * Scaling policy on DockerBackend (issue 20): a boot is retried with backoff
 * on the engine's transient answers (a 5xx to create or start, injected by a
 * front of the test's own in front of the real engine) and never on a
 * permanent one, within `bootTimeout`; headroom boots a second container
 * before the first is full; a retryable call whose container is killed runs
 * again on a new one. Every test leaves no container behind.
 */

import assert from "node:assert/strict";
import { BootError, type CallContext, DockerBackend, Pool } from "../../mod.ts";
import type { FlameEvent } from "../../src/events.ts";
import { waitForAsync } from "../_helpers/backends.ts";
import {
  containersOfPool,
  createFileNetwork,
  docker,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
} from "../_helpers/docker.ts";
import { FaultFront } from "../_helpers/fault_front.ts";

const suffix = crypto.randomUUID().slice(0, 8);
const NETWORK = `flame-scaling-${suffix}`;

if (!ignoreWithoutDocker) {
  await ensureTestImage();
  await createFileNetwork(NETWORK);
}

/** Waits (bounded) for a pool's containers to go, then force-removes what is left; returns what was left. */
async function removeLeft(pool: string): Promise<string[]> {
  await waitForAsync(async () => (await containersOfPool(pool)).length === 0, 10_000);
  const left = await containersOfPool(pool);
  if (left.length > 0) {
    // What was left, and in what state, for the failure message's reader.
    console.log(
      await docker(
        "inspect",
        "--format",
        "{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{.Created}}",
        ...left,
      )
        .catch((e) => String(e)),
    );
    await docker("rm", "-f", ...left).catch(() => {});
  }
  return left;
}

const CREATE = /^\/containers\/create$/;
const START = /^\/containers\/[^/]+\/start$/;

/** Boot phases named "retry" among `events`. */
const retries = (events: FlameEvent[]) =>
  events.filter((e) =>
    e.name === "flame.runner.boot.phase" && e.attributes["flame.phase"] === "retry"
  );

/** A pool whose engine calls go through `front`. */
function poolThrough(front: FaultFront, name: string, events: FlameEvent[], bootTimeout = 30_000) {
  return new Pool({
    backend: new DockerBackend({
      image: TEST_IMAGE,
      network: NETWORK,
      dockerSocketPath: front.path,
      stopTimeout: 1000,
    }),
    name,
    max: 1,
    bootTimeout,
    onEvent: (e) => events.push(e),
  });
}

for (
  const [what, rule] of [
    ["a 500 to create", { method: "POST", path: CREATE, fault: "500" as const, times: 1 }],
    ["a 503 to start", { method: "POST", path: START, fault: "503" as const, times: 1 }],
  ] as const
) {
  Deno.test({
    name: `[docker] a boot is retried after ${what}, and the call served`,
    ignore: ignoreWithoutDocker,
    fn: async () => {
      const name = `t-scaling-retry-${rule.fault}-${suffix}`;
      const front = await FaultFront.start();
      const events: FlameEvent[] = [];
      const pool = poolThrough(front, name, events);
      try {
        front.rules = [{ ...rule }];
        assert.equal(await pool.call(() => "up"), "up");
        assert.equal(front.failed.length, 1, `one injected fault: ${front.failed}`);
        const retried = retries(events);
        assert.equal(retried.length, 1, "one boot retry event");
        assert.equal(retried[0]!.attributes["flame.attempt"], 1);
        assert.equal(retried[0]!.attributes["flame.backoff_ms"], 200);
        assert.match(String(retried[0]!.attributes["error.message"]), /injected fault/);
        assert.equal(front.seen.filter((s) => CREATE.test(s.split(" ")[1]!)).length, 2);
        assert.equal(pool.stats().boots, 1);
        assert.equal(pool.stats().bootFailures, 0);
      } finally {
        await pool.close();
        await front.close();
        assert.deepEqual(await removeLeft(name), [], "containers left behind");
      }
    },
  });
}

Deno.test({
  name: "[docker] a permanent engine answer (404 to create) fails the boot at once, not retried",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const name = `t-scaling-404-${suffix}`;
    const front = await FaultFront.start();
    const events: FlameEvent[] = [];
    const pool = poolThrough(front, name, events);
    try {
      front.rules = [{ method: "POST", path: CREATE, fault: "404" }];
      const started = Date.now();
      const err = await pool.call(() => "up").catch((e) => e);
      assert.ok(err instanceof BootError, String(err));
      assert.ok(Date.now() - started < 5000, "failed at once");
      assert.equal(retries(events).length, 0);
      assert.equal(front.seen.filter((s) => CREATE.test(s.split(" ")[1]!)).length, 1);
    } finally {
      await pool.close();
      await front.close();
      assert.deepEqual(await removeLeft(name), [], "containers left behind");
    }
  },
});

Deno.test({
  name: "[docker] boot retries are bounded: 3 retries with doubling backoff, then the BootError",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const name = `t-scaling-500s-${suffix}`;
    const front = await FaultFront.start();
    const events: FlameEvent[] = [];
    const pool = poolThrough(front, name, events);
    try {
      front.rules = [{ method: "POST", path: CREATE, fault: "500" }];
      const started = Date.now();
      const err = await pool.call(() => "up").catch((e) => e);
      const took = Date.now() - started;
      assert.ok(err instanceof BootError, String(err));
      assert.match(err.message, /injected fault 500/, "the engine's answer, not a timeout");
      assert.deepEqual(
        retries(events).map((e) => e.attributes["flame.backoff_ms"]),
        [200, 400, 800],
      );
      assert.equal(front.failed.length, 4);
      assert.ok(took >= 1400 && took < 10_000, `took ${took} ms`);
    } finally {
      await pool.close();
      await front.close();
      assert.deepEqual(await removeLeft(name), [], "containers left behind");
    }
  },
});

Deno.test({
  name: "[docker] boot retries stop within bootTimeout",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const name = `t-scaling-bounded-${suffix}`;
    const front = await FaultFront.start();
    const events: FlameEvent[] = [];
    // 1000 ms, less a 200 ms reserve: room for the 200 ms and 400 ms waits, not the 800 ms one.
    const pool = poolThrough(front, name, events, 1000);
    try {
      front.rules = [{ method: "POST", path: CREATE, fault: "500" }];
      const started = Date.now();
      const err = await pool.call(() => "up").catch((e) => e);
      const took = Date.now() - started;
      assert.ok(err instanceof BootError, String(err));
      assert.ok(retries(events).length < 3, `${retries(events).length} retries`);
      assert.ok(took < 1500, `took ${took} ms, past bootTimeout`);
    } finally {
      await pool.close();
      await front.close();
      assert.deepEqual(await removeLeft(name), [], "containers left behind");
    }
  },
});

Deno.test({
  name:
    "[docker] growAt boots a second container while the first has free slots; a retryable call whose container is killed runs again",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const name = `t-scaling-headroom-${suffix}`;
    const pool = new Pool({
      backend: new DockerBackend({ image: TEST_IMAGE, network: NETWORK, stopTimeout: 1000 }),
      name,
      max: 2,
      maxConcurrency: 2,
      growAt: 0.5,
      retry: { attempts: 2, backoff: 50 },
    });
    const killed: string[] = [];
    try {
      const call = pool.call(async function (this: CallContext) {
        if (this.attempt === 1) await new Promise((r) => setTimeout(r, 60_000));
        return this.attempt;
      });
      // 1 busy slot of 2 is 50 %: the second container boots though a slot is free.
      assert.ok(
        await waitForAsync(async () => (await containersOfPool(name)).length === 2, 20_000),
        "a second container",
      );
      assert.ok(await waitForAsync(() => Promise.resolve(pool.stats().runners === 2), 20_000));
      assert.equal(pool.stats().queued, 0);
      assert.equal(pool.stats().busySlots, 1);
      // Both go (the busy one among them): attempt 2 runs on a new container.
      killed.push(...await containersOfPool(name));
      await docker("kill", ...killed);
      assert.equal(await call, 2);
      assert.ok(pool.stats().boots >= 3, `${pool.stats().boots} boots`);
      assert.ok(pool.stats().runners <= 2, "never past max");
    } finally {
      await pool.close();
      // The two the test killed are the engine's to remove (AutoRemove); once seen left
      // under load (removeLeft logs their state). Every container the pool stopped is gone.
      const left = await removeLeft(name);
      assert.deepEqual(
        left.filter((id) => !killed.some((k) => k.startsWith(id))),
        [],
        "left behind",
      );
    }
  },
});
