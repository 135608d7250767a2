/**
 * A runner's calls run on call workers, so that work that never yields can be
 * stopped and liveness never waits on it: on ProcessBackend, LocalBackend and
 * DockerBackend, an endless synchronous loop is stopped at its timeout and the
 * next call is served at once; a long synchronous call outlives the heartbeat
 * timeout; synchronous calls on one runner use its CPUs. A real runner process
 * (and a runner container) whose only call never yields still answers
 * heartbeats, and exits when its parent's link drops.
 */

import assert from "node:assert/strict";
import {
  type Backend,
  DockerBackend,
  LocalBackend,
  Pool,
  ProcessBackend,
  RemoteError,
  TimeoutError,
} from "../../mod.ts";
import { authenticateRunner, generateSecret, importSecret } from "../../src/protocol/handshake.ts";
import { FrameConnection } from "../../src/protocol/connection.ts";
import { encodeCallBody, encodeCallHeader, FrameType } from "../../src/protocol/messages.ts";
import { encodeParentEnv, PROTOCOL_VERSION } from "../../src/protocol/parent_env.ts";
import type * as CpuQuota from "../../src/runner/cpu_quota.ts";
import { within } from "../_helpers/wire.ts";
import {
  containersOfPool,
  createFileNetwork,
  docker,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
  TEST_LABEL,
} from "../_helpers/docker.ts";

const CPU_QUOTA = import.meta.resolve("../../src/runner/cpu_quota.ts");
const RUNNER = new URL("../../runner.ts", import.meta.url).pathname;
const suffix = crypto.randomUUID().slice(0, 8);
const NETWORK = `flame-workers-${suffix}`;

if (!ignoreWithoutDocker) {
  await ensureTestImage();
  await createFileNetwork(NETWORK);
}

/** Busy-waits `ms` on the calling thread: synchronous work that never yields. */
function spin(ms: number): number {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n++;
  return n;
}

interface Case {
  kind: string;
  ignore: boolean;
  make: () => Backend;
  /** Runs after each test, pass or fail. */
  after?: (pool: string) => Promise<void>;
}

const cases: Case[] = [
  { kind: "process", ignore: false, make: () => new ProcessBackend() },
  { kind: "local", ignore: false, make: () => new LocalBackend() },
  {
    kind: "docker",
    ignore: ignoreWithoutDocker,
    make: () => new DockerBackend({ image: TEST_IMAGE, network: NETWORK }),
    after: async (pool) => {
      // The backend removes its containers; wait for that, then make sure.
      const end = Date.now() + 5000;
      while ((await containersOfPool(pool)).length > 0 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const left = await containersOfPool(pool);
      if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
      assert.deepEqual(left, [], `containers left behind by pool "${pool}"`);
    },
  },
];

for (const c of cases) {
  const test = (name: string, fn: (pool: string) => Promise<void>) =>
    Deno.test({
      name: `[${c.kind}] ${name}`,
      ignore: c.ignore,
      fn: async () => {
        const pool = `t-workers-${c.kind}-${crypto.randomUUID().slice(0, 6)}`;
        try {
          await fn(pool);
        } finally {
          await c.after?.(pool);
        }
      },
    });

  test("an endless synchronous loop times out and the next call is served at once", async (name) => {
    await using pool = new Pool({ backend: c.make(), max: 1, name });
    assert.equal(await pool.call(() => "warm"), "warm");
    const started = Date.now();
    const err = await pool.call(
      () => {
        for (;;) { /* never yields */ }
      },
      [],
      { timeout: 500 },
    ).catch((e) => e);
    assert.ok(err instanceof TimeoutError, String(err));
    assert.ok(Date.now() - started < 2000, `rejected after ${Date.now() - started} ms`);
    const next = Date.now();
    assert.equal(await pool.call(() => "served", [], { timeout: 5000 }), "served");
    assert.ok(Date.now() - next < 1000, `the next call took ${Date.now() - next} ms`);
    // The stuck worker is replaced: later calls, and parallel ones, are served too.
    const results = await Promise.all([1, 2, 3].map((n) => pool.call((x: number) => x * 2, [n])));
    assert.deepEqual(results, [2, 4, 6]);
    assert.equal(pool.stats().boots, 1, "the runner itself was not replaced");
  });

  // (LocalBackend runs calls in this process: a Deno.exit() there ends the test.)
  if (c.kind !== "local") {
    test("a call that runs Deno.exit() fails at once, named; the runner serves the next call", async (name) => {
      await using pool = new Pool({ backend: c.make(), max: 1, name, timeout: 20_000 });
      assert.equal(await pool.call(() => "warm"), "warm");
      for (
        const fn of [() => Deno.exit(3), async () => {
          await new Promise((r) => setTimeout(r, 20));
          Deno.exit(4);
        }]
      ) {
        const started = Date.now();
        const err = await pool.call(fn).catch((e) => e);
        assert.ok(err instanceof RemoteError, String(err));
        assert.equal(err.remoteName, "WorkerExitedError");
        assert.match(err.message, /Call \d+ failed: a call ran Deno\.exit\([34]\)/);
        assert.ok(Date.now() - started < 5000, `rejected after ${Date.now() - started} ms`);
      }
      assert.equal(await pool.call(() => "served"), "served");
      assert.equal(pool.stats().boots, 1, "the runner itself lives on");
    });
  }

  test("a 6 s synchronous call outlives a 2 s heartbeat timeout", async (name) => {
    await using pool = new Pool({
      backend: c.make(),
      max: 1,
      name,
      heartbeatInterval: 500,
      heartbeatTimeout: 2000,
    });
    const started = Date.now();
    const n = await pool.call(
      (ms: number) => {
        const end = Date.now() + ms;
        let i = 0;
        while (Date.now() < end) i++;
        return i;
      },
      [6000],
      { timeout: 60_000 },
    );
    assert.ok(n > 0);
    assert.ok(Date.now() - started >= 6000);
    assert.equal(pool.stats().boots, 1);
  });

  test("synchronous calls on one runner run on its CPUs at once", async (name) => {
    await using pool = new Pool({ backend: c.make(), max: 1, name });
    // The runner sizes its workers with this same function.
    const workers = await pool.module<typeof CpuQuota>(CPU_QUOTA).availableCpus();
    const serialStart = performance.now();
    for (let i = 0; i < 4; i++) await pool.call(spin, [300]);
    const serial = performance.now() - serialStart;
    const parallelStart = performance.now();
    await Promise.all([0, 1, 2, 3].map(() => pool.call(spin, [300])));
    const parallel = performance.now() - parallelStart;
    const ratio = parallel / serial;
    console.log(
      `${c.kind}: 4 × 300 ms on ${workers} worker(s): serial ${serial.toFixed(0)} ms, ` +
        `at once ${parallel.toFixed(0)} ms (${ratio.toFixed(2)}×)`,
    );
    assert.ok(serial >= 1200);
    if (workers < 2) {
      console.log(`${c.kind}: the runner has 1 CPU: the ratio is not checked`);
      return;
    }
    // Ideal: 0.5 with 2 workers, 0.25 with 4.
    assert.ok(ratio < 0.8, `4 calls at once took ${ratio.toFixed(2)}× the serial time`);
    assert.equal(pool.stats().runners, 1);
  });
}

/** A parent we script: it authenticates one runner, then hands the link to the test. */
async function scriptedParent(hostname: string): Promise<{
  listener: Deno.TcpListener;
  parentEnv: (host: string) => string;
  accept: () => Promise<FrameConnection>;
}> {
  const secret = generateSecret();
  const key = await importSecret(secret);
  const listener = Deno.listen({ hostname, port: 0 });
  const id = `t-stuck-${crypto.randomUUID().slice(0, 8)}`;
  return {
    listener,
    parentEnv: (host) =>
      encodeParentEnv({
        v: PROTOCOL_VERSION,
        host,
        port: listener.addr.port,
        id,
        secret,
        connectTimeout: 60_000,
        heartbeatInterval: 200,
        heartbeatTimeout: 1000,
        idleTimeout: null,
      }),
    accept: async () => {
      const conn = new FrameConnection(await listener.accept(), { maxPayload: 1 << 20 });
      await authenticateRunner(conn, () => key);
      return conn;
    },
  };
}

/**
 * Sends a call that never yields, then for 2.5 s (over twice the heartbeat
 * timeout) expects the runner's pings and pongs to keep coming; then drops the link.
 */
async function stuckCallKeepsBeating(conn: FrameConnection): Promise<void> {
  conn.send(FrameType.Call, [
    encodeCallHeader(1, 0),
    ...encodeCallBody({ kind: "fn", source: "() => { for (;;) {} }" }, []),
  ]);
  const end = Date.now() + 2500;
  let pings = 0;
  let pongs = 0;
  let lastHeard = Date.now();
  let longestSilence = 0;
  while (Date.now() < end) {
    conn.send(FrameType.Ping);
    const frame = await within(conn.readFrame(), 1000);
    assert.notEqual(frame, "timeout", "the runner went silent while its call spun");
    assert.notEqual(frame, null, "the runner hung up while its call spun");
    if (frame === "timeout" || frame === null) return;
    longestSilence = Math.max(longestSilence, Date.now() - lastHeard);
    lastHeard = Date.now();
    if (frame.type === FrameType.Ping) {
      pings++;
      conn.send(FrameType.Pong);
    }
    if (frame.type === FrameType.Pong) pongs++;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(pings >= 5, `${pings} pings in 2.5 s (interval 200 ms)`);
  assert.ok(pongs >= 5, `${pongs} pongs in 2.5 s`);
  assert.ok(longestSilence < 1000, `silent for ${longestSilence} ms`);
  conn.close();
}

Deno.test("a runner process whose call never yields answers heartbeats and exits when the link drops", async () => {
  const parent = await scriptedParent("127.0.0.1");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", RUNNER],
    env: { FLAME_PARENT: parent.parentEnv("127.0.0.1") },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const conn = await parent.accept();
    try {
      await stuckCallKeepsBeating(conn);
    } finally {
      conn.close();
    }
    const droppedAt = Date.now();
    const status = await within(child.status, 3000);
    assert.notEqual(status, "timeout", "the runner still runs 3 s after its parent's link dropped");
    if (status !== "timeout") assert.equal(status.code, 0);
    console.log(`runner exited ${Date.now() - droppedAt} ms after the link dropped`);
  } finally {
    parent.listener.close();
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
  }
});

Deno.test({
  name:
    "[docker] a runner container whose call never yields answers heartbeats and exits when the link drops",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const gateway = await docker(
      "network",
      "inspect",
      "--format",
      "{{(index .IPAM.Config 0).Gateway}}",
      NETWORK,
    );
    const parent = await scriptedParent(gateway);
    const name = `flame-stuck-${suffix}`;
    try {
      await docker(
        "run",
        "-d",
        "--pull",
        "never",
        "--name",
        name,
        "--label",
        TEST_LABEL,
        "--network",
        NETWORK,
        "-e",
        `FLAME_PARENT=${parent.parentEnv(gateway)}`,
        TEST_IMAGE,
      );
      const conn = await within(parent.accept(), 30_000);
      assert.notEqual(conn, "timeout", "the runner container did not connect");
      if (conn === "timeout") return;
      try {
        await stuckCallKeepsBeating(conn);
      } finally {
        conn.close();
      }
      const droppedAt = Date.now();
      let running = "true";
      while (running === "true" && Date.now() - droppedAt < 5000) {
        await new Promise((r) => setTimeout(r, 100));
        running = await docker("inspect", "--format", "{{.State.Running}}", name);
      }
      assert.equal(running, "false", "the runner container still runs 5 s after the link dropped");
      assert.equal(await docker("inspect", "--format", "{{.State.ExitCode}}", name), "0");
      console.log(`runner container exited ${Date.now() - droppedAt} ms after the link dropped`);
    } finally {
      parent.listener.close();
      await docker("rm", "-f", name).catch(() => {});
    }
  },
});

Deno.test({
  name: "[docker] (last) the test network is removed",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await docker("network", "rm", NETWORK);
  },
});
