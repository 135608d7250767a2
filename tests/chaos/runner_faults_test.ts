/**
 * Chaos on Docker runners: a container killed, frozen or cut off from the
 * network in the middle of a call. The caller is rejected promptly with
 * `RunnerExitedError`, the next call runs on a replacement, nothing is left
 * on the engine, and no runner secret shows up in logs, errors or stats.
 */

import { docker, ensureTestImage, ignoreWithoutDocker, TestNetwork } from "../_helpers/docker.ts";
import assert from "node:assert/strict";
import { type CallContext, Pool, type PoolOptions, RunnerExitedError } from "../../mod.ts";
import { sleep } from "../_helpers/backends.ts";
import {
  assertNoSecretLeak,
  captureLogger,
  removeContainers,
  waitNoContainers,
  WatchedDockerBackend,
} from "./_chaos.ts";

const HEARTBEAT_INTERVAL = 200;
const HEARTBEAT_TIMEOUT = 1000;

interface Rig {
  pool: Pool;
  backend: WatchedDockerBackend;
  network: TestNetwork;
  logs: string[];
  errors: unknown[];
  stats: unknown[];
}

/** Runs `body` with a fresh network and pool; always removes every container and the network. */
async function withRig(
  tag: string,
  options: Partial<PoolOptions>,
  body: (rig: Rig) => Promise<void>,
): Promise<void> {
  await ensureTestImage();
  const network = await TestNetwork.create(`chaos-${tag}`);
  const name = `chaos-${tag}-${crypto.randomUUID().slice(0, 6)}`;
  const backend = new WatchedDockerBackend({ network: network.name });
  const poolLog = captureLogger();
  const pool = new Pool({
    backend,
    name,
    max: 1,
    heartbeatInterval: HEARTBEAT_INTERVAL,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    logger: poolLog.logger,
    ...options,
  });
  const rig: Rig = { pool, backend, network, logs: [], errors: [], stats: [] };
  try {
    await body(rig);
    await pool.close();
    const left = await waitNoContainers(name, 10_000);
    assert.ok(left >= 0, `containers left behind by pool "${name}"`);
    rig.stats.push(pool.stats());
    assertNoSecretLeak(tag, backend.secrets, {
      logs: [...poolLog.lines, ...backend.log.lines],
      errors: rig.errors,
      stats: rig.stats,
    });
  } finally {
    await pool.close().catch(() => {});
    await removeContainers(name);
    await network.remove();
  }
}

function whoAmI(this: CallContext): string {
  return this.runnerId;
}

/** Starts a call that never returns, waits until it runs on `runnerId`. */
async function hangingCall(pool: Pool): Promise<{ call: Promise<unknown> }> {
  const call = pool.call(() => new Promise(() => {}), [], { timeout: 60_000 });
  call.catch(() => {});
  const end = Date.now() + 5000;
  while (pool.stats().busySlots === 0 && Date.now() < end) await sleep(10);
  assert.equal(pool.stats().busySlots, 1, "the hanging call is placed");
  await sleep(50); // on the wire, running on the runner
  return { call };
}

function summary(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  return `min ${sorted[0]} / median ${sorted[sorted.length >> 1]} / max ${sorted.at(-1)} ms`;
}

const KILL_TRIALS = 20;

Deno.test({
  name:
    `[chaos] docker kill mid-call, ${KILL_TRIALS} trials: RunnerExitedError within 1 s, next call on a replacement`,
  ignore: ignoreWithoutDocker,
  fn: () =>
    withRig("kill", {}, async (rig) => {
      const { pool, backend } = rig;
      const rejectTimes: number[] = [];
      const replaceTimes: number[] = [];
      let runnerId = await pool.call(whoAmI);
      for (let trial = 1; trial <= KILL_TRIALS; trial++) {
        const { call } = await hangingCall(pool);
        const container = backend.containers.get(runnerId);
        assert.ok(container, `trial ${trial}: container of ${runnerId} known`);
        const killedAt = Date.now();
        await docker("kill", container);
        const err = await call.catch((e) => e);
        const rejectedAfter = Date.now() - killedAt;
        rig.errors.push(err);
        assert.ok(err instanceof RunnerExitedError, `trial ${trial}: ${err}`);
        assert.equal(err.runnerId, runnerId);
        assert.ok(rejectedAfter < 1000, `trial ${trial}: rejected after ${rejectedAfter} ms`);
        rejectTimes.push(rejectedAfter);
        const replacedAt = Date.now();
        const next = await pool.call(whoAmI);
        replaceTimes.push(Date.now() - replacedAt);
        assert.notEqual(next, runnerId, `trial ${trial}: the next call ran on a replacement`);
        runnerId = next;
        rig.stats.push(pool.stats());
      }
      const stats = pool.stats();
      assert.equal(stats.callsFailed, KILL_TRIALS);
      assert.equal(stats.callsOk, KILL_TRIALS + 1);
      console.log(
        `  docker kill: ${KILL_TRIALS}/${KILL_TRIALS} callers rejected with RunnerExitedError after ${
          summary(rejectTimes)
        } (kill CLI included); replacement call took ${summary(replaceTimes)}`,
      );
    }),
});

/** A fault that makes a runner silent; `heal` undoes it so the container can be removed. */
interface SilenceFault {
  tag: string;
  what: string;
  inflict: (container: string, network: string) => Promise<void>;
  heal: (container: string, network: string) => Promise<void>;
}

const SILENCES: SilenceFault[] = [
  {
    tag: "pause",
    what: "docker pause (runner frozen)",
    inflict: (c) => docker("pause", c).then(() => {}),
    heal: (c) => docker("unpause", c).then(() => {}, () => {}),
  },
  {
    tag: "netcut",
    what: "docker network disconnect (link cut)",
    inflict: (c, n) => docker("network", "disconnect", "--force", n, c).then(() => {}),
    heal: () => Promise.resolve(),
  },
];

for (const fault of SILENCES) {
  Deno.test({
    name:
      `[chaos] ${fault.what} mid-call: detected by heartbeats, caller rejected, container removed`,
    ignore: ignoreWithoutDocker,
    fn: () =>
      withRig(fault.tag, {}, async (rig) => {
        const { pool, backend, network } = rig;
        const runnerId = await pool.call(whoAmI);
        const container = backend.containers.get(runnerId)!;
        const { call } = await hangingCall(pool);
        const faultAt = Date.now();
        try {
          await fault.inflict(container, network.name);
          const err = await call.catch((e) => e);
          const detectedAfter = Date.now() - faultAt;
          rig.errors.push(err);
          assert.ok(err instanceof RunnerExitedError, String(err));
          assert.match(err.message, /no heartbeat|connection|closed|exited/);
          const window = HEARTBEAT_TIMEOUT + HEARTBEAT_INTERVAL + 500;
          assert.ok(
            detectedAfter < window,
            `detected after ${detectedAfter} ms (window ${window})`,
          );
          // The pool stops and removes the silent container by itself.
          const removedAfter = await waitNoContainerAmong(container, 15_000);
          const next = await pool.call(whoAmI);
          assert.notEqual(next, runnerId, "the next call ran on a replacement");
          console.log(
            `  ${fault.what}: caller rejected after ${detectedAfter} ms (heartbeatTimeout ${HEARTBEAT_TIMEOUT} ms): ${err.message}; container removed ${removedAfter} ms later; replacement served the next call`,
          );
        } finally {
          await fault.heal(container, network.name);
        }
      }),
  });
}

/** Waits until `container` no longer exists; returns the milliseconds waited. */
async function waitNoContainerAmong(container: string, budgetMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < budgetMs) {
    const found = await docker("ps", "-a", "-q", "--no-trunc", "--filter", `id=${container}`);
    if (found === "") return Date.now() - started;
    await sleep(100);
  }
  const state = await docker("inspect", "--format", "{{.State.Status}}", container).catch(
    () => "gone",
  );
  assert.fail(`container ${container.slice(0, 12)} still exists (${state}) after ${budgetMs} ms`);
}
