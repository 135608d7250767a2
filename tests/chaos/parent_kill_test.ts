/**
 * Chaos: the parent is SIGKILLed with 5 Docker runners up, 10 times. Every
 * runner container must be gone (not even an exited one left) within the
 * heartbeat timeout + 5 s, in every trial.
 */

import {
  docker,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
  TestNetwork,
} from "../_helpers/docker.ts";
import assert from "node:assert/strict";
import { LABEL_POOL } from "../../src/backends/docker/labels.ts";
import { within } from "../_helpers/wire.ts";
import { containersOf, removeContainers, waitNoContainers } from "./_chaos.ts";

const FIXTURE = new URL("../fixtures/docker_parent.ts", import.meta.url).pathname;
/** The fixture's pool option. */
const HEARTBEAT_TIMEOUT = 2000;
const BUDGET = HEARTBEAT_TIMEOUT + 5000;
const TRIALS = 10;
const RUNNERS = 5;

/** Milliseconds from `killedAt` to each runner's "die" event (the engine's record of its exit). */
async function dieTimes(pool: string, since: number, killedAt: number): Promise<number[]> {
  const out = await docker(
    "events",
    "--since",
    String(since),
    "--until",
    String(Math.floor(Date.now() / 1000) + 1),
    "--filter",
    "type=container",
    "--filter",
    "event=die",
    "--filter",
    `label=${LABEL_POOL}=${pool}`,
    "--format",
    "{{.TimeNano}}",
  );
  return out.split("\n").filter(Boolean).map((ns) => Math.round(Number(ns) / 1e6 - killedAt));
}

function summary(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  return `min ${sorted[0]} / median ${sorted[sorted.length >> 1]} / max ${sorted.at(-1)} ms`;
}

async function startParent(network: string, pool: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE, TEST_IMAGE, network, pool, String(RUNNERS), "false"],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const ready = await within(
      (async () => {
        let text = "";
        while (!text.includes("\n")) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`The parent ended before it was ready: ${text}`);
          text += value;
        }
        return JSON.parse(text.split("\n")[0]!) as { hostnames: string[] };
      })(),
      40_000,
    );
    if (ready === "timeout") throw new Error("The parent was not ready within 40 s");
    assert.equal(ready.hostnames.length, RUNNERS);
    return child;
  } catch (err) {
    child.kill("SIGKILL");
    await child.status;
    throw err;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

Deno.test({
  name:
    `[chaos] parent SIGKILLed with ${RUNNERS} Docker runners up, ${TRIALS} trials: every container gone within heartbeatTimeout + 5 s`,
  ignore: ignoreWithoutDocker,
  fn: async () => {
    await ensureTestImage();
    const network = await TestNetwork.create("chaos-pkill");
    const times: number[] = [];
    const exits: number[] = [];
    try {
      // One trial at a time: the engine removes containers slowly when many exit at once
      // (its network teardown), which would measure the engine rather than the runners.
      const trial = async (n: number) => {
        const pool = `chaos-pkill-${n}-${crypto.randomUUID().slice(0, 6)}`;
        try {
          const child = await startParent(network.name, pool);
          assert.equal((await containersOf(pool)).length, RUNNERS, `trial ${n}: runners up`);
          const since = Math.floor(Date.now() / 1000) - 1;
          child.kill("SIGKILL");
          const killedAt = Date.now();
          await child.status;
          const waited = await waitNoContainers(pool, BUDGET);
          const gone = Date.now() - killedAt;
          const died = await dieTimes(pool, since, killedAt);
          const left = await containersOf(pool);
          assert.equal(died.length, RUNNERS, `trial ${n}: every runner process exited`);
          const lastDeath = Math.max(...died);
          assert.ok(
            waited >= 0,
            `trial ${n}: ${left.length} container(s) still there ${BUDGET} ms after the SIGKILL (the runners exited within ${lastDeath} ms; the rest is the engine removing them)`,
          );
          times.push(gone);
          exits.push(lastDeath);
        } finally {
          await removeContainers(pool);
        }
      };
      for (let n = 1; n <= TRIALS; n++) await trial(n);
    } finally {
      await network.remove();
    }
    console.log(
      `  parent SIGKILL: ${TRIALS}/${TRIALS} trials clean; the last of ${RUNNERS} runner processes exited (engine "die" event) after ${
        summary(exits)
      }; all containers removed after ${summary(times)} (budget ${BUDGET} ms)`,
    );
  },
});
