/**
 * Chaos: the parent is SIGKILLed with 5 Docker runners up, 10 times. Every
 * runner container must be gone (not even an exited one left) within the
 * heartbeat timeout + 5 s, in every trial.
 */

import assert from "node:assert/strict";
import { LABEL_POOL } from "../../mod.ts";
import { sleep } from "../_helpers/backends.ts";
import { docker, ensureTestImage, ignoreWithoutDocker, TEST_IMAGE } from "../_helpers/docker.ts";
import { within } from "../_helpers/wire.ts";
import { ChaosNetwork, containersOf, removeContainers, waitNoContainers } from "./_chaos.ts";

const FIXTURE = new URL("../fixtures/docker_parent.ts", import.meta.url).pathname;
/** The fixture's pool option. */
const HEARTBEAT_TIMEOUT = 2000;
const BUDGET = HEARTBEAT_TIMEOUT + 5000;
const TRIALS = 10;
const RUNNERS = 5;

/** Milliseconds until no container of the pool runs (exited ones may remain), or -1. */
async function waitNoneRunning(pool: string, budgetMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < budgetMs) {
    const running = await docker("ps", "-q", "--filter", `label=${LABEL_POOL}=${pool}`);
    if (running === "") return Date.now() - started;
    await sleep(50);
  }
  return -1;
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
    const network = await ChaosNetwork.create("pkill");
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
          child.kill("SIGKILL");
          const killedAt = Date.now();
          await child.status;
          const exited = await waitNoneRunning(pool, BUDGET);
          const waited = await waitNoContainers(pool, BUDGET - (Date.now() - killedAt));
          const left = await containersOf(pool);
          assert.ok(
            waited >= 0,
            `trial ${n}: ${left.length} container(s) still there ${BUDGET} ms after the SIGKILL`,
          );
          times.push(Date.now() - killedAt);
          exits.push(exited);
        } finally {
          await removeContainers(pool);
        }
      };
      for (let n = 1; n <= TRIALS; n++) await trial(n);
    } finally {
      await network.remove();
    }
    console.log(
      `  parent SIGKILL: ${TRIALS}/${TRIALS} trials clean; engine showed none of the ${RUNNERS} running after ${
        summary(exits)
      }; all containers removed after ${summary(times)} (budget ${BUDGET} ms)`,
    );
  },
});
