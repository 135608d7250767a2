/**
 * `closeOnSignals(pool)`: a parent that gets SIGTERM with calls in flight
 * lets them finish, stops its runners and exits 0; on Deno and on Node.js
 * (the bundle of mod.ts), with ProcessBackend runners. (The Docker deploy, a
 * `docker stop` of a parent container, is tests/e2e/dood_drain_test.ts.)
 */

import assert from "node:assert/strict";
import { closeOnSignals } from "../../mod.ts";

const root = new URL("../../", import.meta.url).pathname;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  /** Milliseconds from the signal to the exit. */
  ms: number;
}

/** Starts `command`, sends it SIGTERM once it prints "in flight", and waits for its exit (bounded). */
async function signalledRun(command: string, args: string[], env: Record<string, string>) {
  const child = new Deno.Command(command, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  let signalledAt = 0;
  const decoder = new TextDecoder();
  try {
    for await (const bytes of child.stdout) {
      stdout += decoder.decode(bytes, { stream: true });
      if (signalledAt === 0 && stdout.includes("in flight\n")) {
        signalledAt = Date.now();
        child.kill("SIGTERM");
      }
    }
    const status = await child.status;
    return {
      code: status.code,
      stdout,
      stderr: await stderr,
      ms: signalledAt === 0 ? -1 : Date.now() - signalledAt,
    } satisfies Outcome;
  } finally {
    clearTimeout(killer);
  }
}

function assertDrained(outcome: Outcome): void {
  const all = `stdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`;
  assert.ok(outcome.ms >= 0, `never in flight; ${all}`);
  assert.equal(outcome.code, 0, all);
  const line = outcome.stdout.split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, all);
  const results = JSON.parse(line).results as { n: number; pid: number }[];
  assert.deepEqual(results.map((r) => r.n), [1, 2, 3], "every call in flight finished");
  for (const pid of new Set(results.map((r) => r.pid))) {
    let alive = true;
    try {
      Deno.statSync(`/proc/${pid}`);
    } catch {
      alive = false;
    }
    assert.ok(!alive, `runner process ${pid} outlived its parent`);
  }
}

Deno.test("closeOnSignals() returns a disposer that stops listening", () => {
  const closed: string[] = [];
  const stop = closeOnSignals({ close: () => Promise.resolve(void closed.push("x")) }, {
    signals: ["SIGUSR2"],
    exit: false,
  });
  stop();
  stop();
  assert.deepEqual(closed, []);
});

Deno.test("[deno] SIGTERM with calls in flight: they finish, the runners stop, the parent exits 0", async () => {
  const outcome = await signalledRun(Deno.execPath(), [
    "run",
    "--allow-all",
    `${root}tests/fixtures/signal_parent.ts`,
  ], { FLAME_CALL_MS: "1500" });
  assertDrained(outcome);
});

async function nodeMajor(): Promise<number> {
  try {
    const out = await new Deno.Command("node", { args: ["--version"], stdout: "piped" }).output();
    return Number(new TextDecoder().decode(out.stdout).trim().replace(/^v/, "").split(".")[0]);
  } catch {
    return 0;
  }
}

Deno.test({
  name: "[node] SIGTERM with calls in flight: they finish, the runners stop, the parent exits 0",
  ignore: await nodeMajor() < 20,
  fn: async () => {
    const dir = `${root}.build/node`;
    await Deno.mkdir(dir, { recursive: true });
    const bundle = `${dir}/flame-signals-${crypto.randomUUID().slice(0, 8)}.mjs`;
    try {
      const built = await new Deno.Command(Deno.execPath(), {
        args: ["bundle", "--quiet", "--platform", "node", "-o", bundle, `${root}mod.ts`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(built.success, new TextDecoder().decode(built.stderr));
      const outcome = await signalledRun("node", [`${root}tests/fixtures/signal_parent_node.mjs`], {
        FLAME_BUNDLE: bundle,
        FLAME_RUNNER: `${root}runner.ts`,
        FLAME_CALL_MS: "1500",
        DENO_BIN: Deno.execPath(),
      });
      assertDrained(outcome);
    } finally {
      await Deno.remove(bundle).catch(() => {});
    }
  },
});
