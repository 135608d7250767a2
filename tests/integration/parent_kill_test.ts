/**
 * A runner never outlives its parent by more than a few seconds: not when the
 * parent is SIGKILLed, not when it goes silent with the socket still open.
 */

import assert from "node:assert/strict";
import { encodeCallBody, encodeCallHeader, FrameType } from "../../src/protocol/messages.ts";
import { runAgainstParent, within } from "../_helpers/wire.ts";

const FIXTURE = new URL("../fixtures/kill_parent.ts", import.meta.url).pathname;
const HEARTBEAT_TIMEOUT = 2000;

/** Whether `pid` is a live process (a zombie has exited; it only awaits reaping). */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Reads stdout lines until one parses as the fixture's pid report (bounded in time). */
async function readReport(
  stdout: ReadableStream<Uint8Array>,
  ms: number,
): Promise<{ pids: number[]; parent: number }> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  const read = async () => {
    let text = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`The parent fixture ended without a report: ${text}`);
      text += value;
      for (const line of text.split("\n")) {
        if (line.startsWith('{"pids"')) return JSON.parse(line);
      }
    }
  };
  try {
    const report = await within(read(), ms);
    if (report === "timeout") throw new Error(`No pid report within ${ms} ms`);
    return report;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Boots the fixture parent, returns its 3 runner pids. */
async function startParent(): Promise<{ child: Deno.ChildProcess; pids: number[] }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const report = await readReport(child.stdout, 40_000);
    assert.equal(report.parent, child.pid);
    assert.equal(new Set(report.pids).size, 3, `expected 3 distinct runner pids: ${report.pids}`);
    for (const pid of report.pids) {
      assert.notEqual(pid, child.pid);
      assert.ok(alive(pid), `runner ${pid} is not running`);
    }
    return { child, pids: report.pids };
  } catch (err) {
    child.kill("SIGKILL");
    await child.status;
    throw err;
  }
}

/** Waits (bounded) until every pid is gone; returns the milliseconds since `since`. */
async function waitGone(pids: number[], since: number, budget: number): Promise<number> {
  try {
    while (pids.some(alive) && Date.now() - since < budget) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const elapsed = Date.now() - since;
    assert.deepEqual(pids.filter(alive), [], `runners still alive after ${elapsed} ms`);
    return elapsed;
  } finally {
    for (const pid of pids.filter(alive)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
}

const BUDGET = HEARTBEAT_TIMEOUT + 3000;

Deno.test({
  name: "runners exit within heartbeatTimeout + 3 s after their parent is SIGKILLed",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const { child, pids } = await startParent();
    child.kill("SIGKILL");
    const killedAt = Date.now();
    assert.equal((await child.status).signal, "SIGKILL");
    const elapsed = await waitGone(pids, killedAt, BUDGET);
    console.log(
      `runners ${
        pids.join(", ")
      } gone ${elapsed} ms after the parent's SIGKILL (budget ${BUDGET} ms)`,
    );
  },
});

Deno.test({
  name: "runners exit within heartbeatTimeout + 3 s after their parent is frozen (SIGSTOP)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const { child, pids } = await startParent();
    child.kill("SIGSTOP");
    const stoppedAt = Date.now();
    try {
      const elapsed = await waitGone(pids, stoppedAt, BUDGET);
      console.log(
        `runners ${
          pids.join(", ")
        } gone ${elapsed} ms after the parent froze (budget ${BUDGET} ms)`,
      );
      // Not at once: they waited for the heartbeat timeout (less the last ping interval).
      assert.ok(elapsed >= HEARTBEAT_TIMEOUT - 1000, `gone after only ${elapsed} ms`);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
});

Deno.test("a runner whose parent goes silent without closing the socket exits on heartbeat timeout", async () => {
  const { exit, elapsed } = await runAgainstParent(
    { heartbeatInterval: 100, heartbeatTimeout: 600 },
    async (conn) => {
      // Silent from now on, socket open; read what the runner sends so nothing backs up.
      while ((await conn.readFrame()) !== null) { /* discard pings */ }
    },
    5000,
  );
  console.log(`silent parent: runner exited after ${elapsed} ms (heartbeatTimeout 600 ms)`);
  assert.notEqual(exit, "timeout");
  if (exit === "timeout") return;
  assert.equal(exit.reason, "heartbeat-timeout");
  assert.equal(exit.code, 0);
  assert.ok(elapsed >= 600 && elapsed < 600 + 100 + 1000, `exited after ${elapsed} ms`);
});

Deno.test("a runner exits on heartbeat timeout even while its write to a silent parent is stuck", async () => {
  const { exit, elapsed } = await runAgainstParent(
    { heartbeatInterval: 100, heartbeatTimeout: 600 },
    async (conn, runnerDone) => {
      // A 64 MiB result the parent never reads: the runner's socket write blocks.
      conn.send(FrameType.Call, [
        encodeCallHeader(1, 0),
        ...encodeCallBody({ kind: "fn", source: "() => new Uint8Array(64 * 1024 * 1024)" }, []),
      ]);
      await runnerDone;
    },
    5000,
  );
  console.log(`stuck write: runner exited after ${elapsed} ms (heartbeatTimeout 600 ms)`);
  assert.notEqual(exit, "timeout", "the runner never exited");
  if (exit === "timeout") return;
  assert.equal(exit.reason, "heartbeat-timeout");
  assert.ok(elapsed < 600 + 100 + 2000, `exited after ${elapsed} ms`);
});
