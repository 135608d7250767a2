/**
 * An idle pool does not keep the process alive: a script that never calls
 * `close()` exits by itself once idle shutdown has removed every runner (its
 * port and timers let go of the event loop while no call, runner or boot is
 * under way), and does not exit while a call is pending. On Deno, and on
 * Node.js from a `deno bundle --platform node` of mod.ts.
 */

import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;
const fixture = `${root}tests/fixtures/idle_parent.ts`;
/** Longest a run may take before the test kills it (it then fails). */
const BOUND_MS = 20_000;
/** Longest the process may linger after its runner is gone. */
const EXIT_AFTER_SHRINK_MS = 3_000;

interface Run {
  code: number;
  killed: boolean;
  exitedAt: number;
  events: { event: string; t: number; value?: unknown; reason?: string }[];
  stderr: string;
}

async function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const child = new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, BOUND_MS);
  try {
    const out = await child.output();
    const exitedAt = Date.now();
    const events = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
    return {
      code: out.code,
      killed,
      exitedAt,
      events,
      stderr: new TextDecoder().decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

function checkIdleExit(r: Run): void {
  assert.ok(!r.killed, `still running after ${BOUND_MS} ms: ${JSON.stringify(r.events)}`);
  assert.equal(r.code, 0, r.stderr);
  const names = r.events.map((e) => e.event);
  assert.deepEqual(names, ["result", "end of script", "shrink"]);
  const shrink = r.events[2]!;
  assert.equal(shrink.reason, "idle");
  const lingered = r.exitedAt - shrink.t;
  assert.ok(lingered < EXIT_AFTER_SHRINK_MS, `exited ${lingered} ms after its runner was removed`);
}

function checkPendingStays(r: Run): void {
  assert.ok(!r.killed, `still running after ${BOUND_MS} ms: ${JSON.stringify(r.events)}`);
  assert.equal(r.code, 0, r.stderr);
  // The script ended at once; the process stayed for the call's answer, then its idle shutdown.
  assert.deepEqual(r.events.map((e) => e.event), ["end of script", "result", "shrink"]);
  assert.equal(r.events[1]!.value, "late");
}

Deno.test("[deno] a pool never closed lets the process exit once idle shutdown removed its runner", async () => {
  checkIdleExit(await run(Deno.execPath(), ["run", "--allow-all", fixture, "idle"]));
});

Deno.test("[deno] a pool never closed keeps the process alive while a call is pending", async () => {
  checkPendingStays(await run(Deno.execPath(), ["run", "--allow-all", fixture, "pending"]));
});

const NODE_FIXTURE = `
const { Pool, ProcessBackend } = await import(process.env.FLAME_BUNDLE);
const mode = process.argv[2];
const say = (event, extra = {}) => console.log(JSON.stringify({ event, t: Date.now(), ...extra }));
const pool = new Pool({
  name: "idle-exit",
  backend: new ProcessBackend({ runner: process.env.FLAME_RUNNER }),
  max: 1,
  idleShutdownAfter: 200,
  onShrink: (e) => say("shrink", { reason: e.reason }),
});
if (mode === "idle") {
  say("result", { value: await pool.call(() => 1) });
} else {
  pool.call(() => new Promise((resolve) => setTimeout(() => resolve("late"), 1500)))
    .then((value) => say("result", { value }));
}
say("end of script");
`;

async function hasNode(): Promise<boolean> {
  try {
    return (await new Deno.Command("node", { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "[node] an idle pool lets the process exit; a pending call keeps it",
  ignore: !(await hasNode()),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "flame-idle-exit-" });
    try {
      const bundle = `${dir}/flame.mjs`;
      const built = await new Deno.Command(Deno.execPath(), {
        args: ["bundle", "--quiet", "--platform", "node", "-o", bundle, `${root}mod.ts`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(built.success, new TextDecoder().decode(built.stderr));
      await Deno.writeTextFile(`${dir}/idle_parent.mjs`, NODE_FIXTURE);
      const env = {
        FLAME_BUNDLE: bundle,
        FLAME_RUNNER: `${root}runner.ts`,
        DENO_BIN: Deno.execPath(),
      };
      checkIdleExit(await run("node", [`${dir}/idle_parent.mjs`, "idle"], env));
      checkPendingStays(await run("node", [`${dir}/idle_parent.mjs`, "pending"], env));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
