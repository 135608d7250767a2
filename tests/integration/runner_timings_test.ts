/**
 * The runner honours FLAME_PARENT timings longer than a JavaScript timer can
 * hold (2^31-1 ms, about 24.8 days), as a pool with a long `idleShutdownAfter`
 * or `bootTimeout` sends them.
 */

import assert from "node:assert/strict";
import { encodeCallBody, encodeCallHeader, FrameType } from "../../src/protocol/messages.ts";
import type { ParentEnv } from "../../src/protocol/parent_env.ts";
import { runAgainstParent } from "../_helpers/wire.ts";

const THIRTY_DAYS = 30 * 24 * 3600 * 1000;

/** A parent that authenticates the runner, answers pings, counts them, and hangs up after `ms`. */
async function runAgainstLiveParent(overrides: Partial<ParentEnv>, ms: number) {
  let pings = 0;
  let authenticated = false;
  const { exit, elapsed } = await runAgainstParent(overrides, async (conn) => {
    authenticated = true;
    const hangUp = setTimeout(() => conn.close(), ms);
    try {
      for (let f = await conn.readFrame(); f !== null; f = await conn.readFrame()) {
        if (f.type === FrameType.Ping) {
          pings++;
          conn.send(FrameType.Pong);
        }
      }
    } finally {
      clearTimeout(hangUp);
    }
  });
  return { exit, elapsed, pings, authenticated };
}

Deno.test("a runner with a 30-day idleTimeout does not exit idle at once", async () => {
  const r = await runAgainstLiveParent({ idleTimeout: THIRTY_DAYS }, 500);
  assert.notEqual(r.exit, "timeout");
  if (r.exit === "timeout") return;
  assert.equal(r.exit.reason, "parent-closed", `exited "${r.exit.reason}" after ${r.elapsed} ms`);
});

Deno.test("a runner with a 30-day connectTimeout still authenticates", async () => {
  const r = await runAgainstLiveParent({ connectTimeout: THIRTY_DAYS }, 300);
  assert.ok(r.authenticated);
  assert.notEqual(r.exit, "timeout");
  if (r.exit === "timeout") return;
  assert.equal(r.exit.reason, "parent-closed", r.exit.message);
});

Deno.test("a runner with a 30-day heartbeat interval does not ping in a tight loop", async () => {
  const r = await runAgainstLiveParent(
    { heartbeatInterval: THIRTY_DAYS, heartbeatTimeout: 2 * THIRTY_DAYS },
    300,
  );
  assert.notEqual(r.exit, "timeout");
  if (r.exit === "timeout") return;
  assert.equal(r.exit.reason, "parent-closed");
  assert.ok(r.pings <= 1, `${r.pings} pings in 300 ms`);
});

Deno.test("a runner's idle countdown starts at its last call, not its first", async () => {
  const IDLE = 300;
  const GAP = 100;
  let lastResultAt = 0;
  let results = 0;
  const { exit } = await runAgainstParent({ idleTimeout: IDLE }, async (conn) => {
    // Calls every 100 ms for well over the idle timeout: each one resets it.
    for (let id = 1; id <= 8; id++) {
      conn.send(FrameType.Call, [
        encodeCallHeader(id, 0),
        ...encodeCallBody({ kind: "fn", source: "() => 1" }, []),
      ]);
      let f = await conn.readFrame();
      for (; f?.type === FrameType.Ping; f = await conn.readFrame()) conn.send(FrameType.Pong);
      if (f === null) return;
      assert.equal(f.type, FrameType.Result);
      results++;
      lastResultAt = Date.now();
      await new Promise((r) => setTimeout(r, GAP));
    }
    // Then silence but for heartbeats, until the runner leaves.
    for (let f = await conn.readFrame(); f !== null; f = await conn.readFrame()) {
      if (f.type === FrameType.Ping) conn.send(FrameType.Pong);
    }
  });
  assert.notEqual(exit, "timeout");
  if (exit === "timeout") return;
  assert.equal(exit.reason, "idle");
  assert.equal(results, 8, "the runner left while calls kept coming");
  const idleFor = Date.now() - lastResultAt;
  assert.ok(idleFor >= IDLE - 20, `exited ${idleFor} ms after the last call`);
  assert.ok(idleFor < IDLE + 1000, `exited only ${idleFor} ms after the last call`);
});

Deno.test("a runner arms no timer before its first answer has left (a first timer costs a cold call ≈ 15–25 ms)", async () => {
  const { ProcessBackend } = await import("../../src/backends/process.ts");
  const { Pool } = await import("../../src/parent/pool.ts");
  const file = await Deno.makeTempFile({ prefix: "flame-runner-events-" });
  try {
    const pool = new Pool({
      backend: new ProcessBackend({
        runner: new URL("../_helpers/recording_runner.ts", import.meta.url),
        env: { FLAME_TEST_EVENTS: file },
      }),
      max: 1,
      timeout: 10_000,
      heartbeatInterval: 200,
    });
    try {
      assert.equal(await pool.call(() => 1), 1);
      // Long enough for the heartbeat to start and beat.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await pool.call(() => 2), 2);
    } finally {
      await pool.close();
    }
    const events = (await Deno.readTextFile(file)).split("\n");
    const firstResult = events.findIndex((e) => /^write .*\b11\b/.test(e));
    const firstTimer = events.findIndex((e) => e === "setTimeout" || e === "setInterval");
    assert.ok(firstResult >= 0, `no result written: ${events.join(" | ")}`);
    assert.ok(firstTimer > firstResult, `a timer before the first result: ${events.join(" | ")}`);
    // The timers did start: the heartbeat beat (a Ping, type 20) while the runner idled.
    assert.ok(events.includes("setInterval"), events.join(" | "));
    assert.ok(events.some((e) => /^write .*\b20\b/.test(e)), events.join(" | "));
  } finally {
    await Deno.remove(file);
  }
});
