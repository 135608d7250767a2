/**
 * Chaos and least privilege at the Docker socket, through a proxy in front of
 * the real engine (never the engine itself: other tests use it in parallel).
 *
 * - Engine outage: the proxy stops while the pool runs. Boots fail fast with
 *   an error saying the engine cannot be reached; warm runners keep serving;
 *   once the proxy is back, the pool boots again.
 * - Least privilege: a pool's whole life (boot, call, kill, idle stop, reap,
 *   a failed pull, close) uses only the endpoints listed in SECURITY.md.
 */

import { ensureTestImage, ignoreWithoutDocker, TestNetwork } from "../_helpers/docker.ts";
import assert from "node:assert/strict";
import { BootError, type CallContext, Pool } from "../../mod.ts";
import { sleep, waitFor } from "../_helpers/backends.ts";
import {
  assertNoSecretLeak,
  captureLogger,
  EngineProxy,
  errorText,
  removeContainers,
  waitNoContainers,
  WatchedDockerBackend,
} from "./_chaos.ts";

function whoAmI(this: CallContext): string {
  return this.runnerId;
}

Deno.test({
  name:
    "[chaos] Docker engine unreachable while the pool runs: boots fail fast naming the engine, warm runners keep serving, boots resume when it is back",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await ensureTestImage();
    const network = await TestNetwork.create("chaos-engine");
    const proxy = await EngineProxy.start();
    const name = `chaos-engine-${crypto.randomUUID().slice(0, 6)}`;
    const backend = new WatchedDockerBackend({
      network: network.name,
      dockerSocketPath: proxy.path,
      startTimeout: 10_000,
    });
    const poolLog = captureLogger();
    const errors: unknown[] = [];
    const stats: unknown[] = [];
    const bootFailures: unknown[] = [];
    const pool = new Pool({
      onGrowEnd: (e) => {
        if (!e.ok) bootFailures.push(e.error);
      },
      backend,
      name,
      max: 3,
      maxConcurrency: 1,
      heartbeatInterval: 200,
      heartbeatTimeout: 1000,
      logger: poolLog.logger,
    });
    try {
      const warm = await pool.call(whoAmI);
      // A call in flight across the outage, on the warm runner.
      const across = pool.call(async (ms: number) => {
        await new Promise((r) => setTimeout(r, ms));
        return "survived";
      }, [2500]);
      await sleep(100);

      await proxy.halt();
      const haltedAt = Date.now();
      // Two more calls need two more runners: both boots fail, fast. The callers wait
      // for the busy warm runner (a pool with a runner up queues rather than fails).
      const queued = [1, 2].map(() => pool.call(() => "queued"));
      assert.ok(await waitFor(() => bootFailures.length >= 2, 5000), "both boots failed");
      const failedAfter = Date.now() - haltedAt;
      // A pool with no runner up: its calls fail at once with the cause.
      const lone = new WatchedDockerBackend({
        network: network.name,
        dockerSocketPath: proxy.path,
        startTimeout: 10_000,
      });
      const lonePool = new Pool({ backend: lone, name: `${name}-lone`, max: 1 });
      const loneStarted = Date.now();
      const loneErrors = await Promise.all(
        [1, 2, 3].map(() => lonePool.call(() => 1).then(() => undefined, (e) => e)),
      );
      const loneAfter = Date.now() - loneStarted;
      await lonePool.close();
      for (const err of [...bootFailures, ...loneErrors]) {
        errors.push(err);
        assert.ok(err instanceof BootError, `expected a BootError, got ${errorText(err)}`);
        assert.match(errorText(err), /Cannot connect to the Docker engine/);
        assert.ok(errorText(err).includes(proxy.path), "the error names the socket tried");
      }
      assert.ok(failedAfter < 3000, `boots failed after ${failedAfter} ms`);
      assert.ok(loneAfter < 3000, `calls failed after ${loneAfter} ms`);
      stats.push(pool.stats(), lonePool.stats());

      assert.equal(await across, "survived", "the call in flight on a warm runner finished");
      assert.deepEqual(await Promise.all(queued), ["queued", "queued"]);
      const warmAgain = await pool.call(whoAmI);
      assert.equal(warmAgain, warm, "the warm runner still serves while the engine is away");

      proxy.resume();
      const resumedAt = Date.now();
      // Three at once: the warm runner takes one, two new runners boot.
      const ids = await Promise.all(
        [1, 2, 3].map(() =>
          pool.call(async function (this: CallContext) {
            await new Promise((r) => setTimeout(r, 2000));
            return this.runnerId;
          })
        ),
      );
      const recoveredAfter = Date.now() - resumedAt - 2000;
      assert.equal(new Set(ids).size, 3, "two runners booted after the engine came back");
      stats.push(pool.stats());
      await pool.close();
      assert.ok(await waitNoContainers(name, 10_000) >= 0, "containers left behind");
      stats.push(pool.stats());
      console.log(
        `  engine outage: 2/2 boots failed ${failedAfter} ms after the halt, 3/3 calls of a pool with no runner rejected in ${loneAfter} ms, with "${
          (loneErrors[0] as Error).message.slice(0, 160)
        }"; the in-flight call and a new call on the warm runner succeeded; 2 runners booted ${recoveredAfter} ms after the engine returned`,
      );
      assertNoSecretLeak("engine outage", [...backend.secrets, ...lone.secrets], {
        logs: [...poolLog.lines, ...backend.log.lines, ...lone.log.lines],
        errors,
        stats,
      });
    } finally {
      proxy.resume();
      await pool.close().catch(() => {});
      await proxy.close();
      await removeContainers(name);
      await network.remove();
    }
  },
});

/**
 * Every endpoint DockerBackend may call (method, path after the `/v1.xx`
 * prefix). SECURITY.md lists the same; keep them in step.
 */
export const ALLOWED_ENDPOINTS: readonly { method: string; path: RegExp; use: string }[] = [
  { method: "GET", path: /^\/_ping$/, use: "engine check, API version negotiation" },
  { method: "GET", path: /^\/version$/, use: "API version (engines without the header)" },
  { method: "GET", path: /^\/containers\/[^/?]+\/json$/, use: "own container (DooD), reap" },
  { method: "GET", path: /^\/containers\/json\?/, use: "reap: list runners by label" },
  { method: "POST", path: /^\/containers\/create\?name=[^&]+$/, use: "boot" },
  { method: "POST", path: /^\/containers\/[^/?]+\/start$/, use: "boot" },
  { method: "POST", path: /^\/containers\/[^/?]+\/wait\?/, use: "runner exit" },
  { method: "GET", path: /^\/containers\/[^/?]+\/logs\?/, use: "last log lines of a runner" },
  { method: "POST", path: /^\/containers\/[^/?]+\/stop(\?t=\d+)?$/, use: "stop" },
  { method: "POST", path: /^\/containers\/[^/?]+\/kill(\?signal=\w+)?$/, use: "kill" },
  { method: "DELETE", path: /^\/containers\/[^/?]+(\?.*)?$/, use: "remove" },
  { method: "GET", path: /^\/images\/[^?]+\/json$/, use: "is the image there" },
  { method: "POST", path: /^\/images\/create\?/, use: "pull a missing image" },
  { method: "GET", path: /^\/networks\/[^/?]+$/, use: "network check, gateway" },
];

Deno.test({
  name:
    "[security] DockerBackend calls only the endpoints SECURITY.md lists (boot, call, kill, stop, reap, pull, close)",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await ensureTestImage();
    const network = await TestNetwork.create("chaos-priv");
    const proxy = await EngineProxy.start();
    const name = `chaos-priv-${crypto.randomUUID().slice(0, 6)}`;
    const backend = new WatchedDockerBackend({
      network: network.name,
      dockerSocketPath: proxy.path,
    });
    const pool = new Pool({ backend, name, max: 2, idleShutdownAfter: 300 });
    try {
      const first = await pool.call(whoAmI);
      const hanging = pool.call(() => new Promise(() => {}), [], { timeout: 30_000 });
      hanging.catch(() => {});
      await sleep(100);
      assert.ok(backend.kill(first), "kill through the API");
      await hanging.catch(() => {});
      await pool.call(whoAmI);
      // Idle shutdown: stop and remove through the API.
      assert.ok(await waitFor(() => pool.stats().runners === 0, 10_000), "idle runner stopped");
      // Other test files may have dead-parent leftovers at this moment: only the endpoints matter here.
      assert.ok(await backend.reap() >= 0);
      // A missing image: inspect, then a pull that fails (a closed loopback registry).
      const pulling = new WatchedDockerBackend({
        network: network.name,
        dockerSocketPath: proxy.path,
        image: "127.0.0.1:1/flame-missing:latest",
      });
      {
        await using failing = new Pool({ backend: pulling, name: `${name}-pull`, max: 1 });
        await assert.rejects(failing.call(() => 1), BootError);
      }
      await pool.close();
      assert.ok(await waitNoContainers(name, 10_000) >= 0, "containers left behind");
    } finally {
      await pool.close().catch(() => {});
      await proxy.close();
      await removeContainers(name);
      await network.remove();
    }
    const seen = new Map<string, number>();
    const outside: string[] = [];
    for (const { method, path } of proxy.requests) {
      const bare = path.replace(/^\/v1\.\d+(?=\/)/, "");
      const rule = ALLOWED_ENDPOINTS.find((e) => e.method === method && e.path.test(bare));
      if (rule === undefined) outside.push(`${method} ${path}`);
      else {seen.set(
          `${rule.method} ${rule.path.source}`,
          (seen.get(`${rule.method} ${rule.path.source}`) ?? 0) + 1,
        );}
    }
    assert.deepEqual(outside, [], "endpoints outside the documented list");
    console.log(
      `  least privilege: ${proxy.requests.length} requests, all within ${ALLOWED_ENDPOINTS.length} documented endpoints; used:\n${
        [...seen].map(([k, n]) => `    ${n}× ${k}`).join("\n")
      }`,
    );
    for (const required of ["/create", "/start", "/wait", "/kill", "/stop", "/images/create"]) {
      assert.ok(
        proxy.requests.some((r) => r.path.includes(required)),
        `the test exercised ${required}`,
      );
    }
  },
});
