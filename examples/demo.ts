/**
 * `deno task demo`: a real pool doing real work, narrated.
 *
 * It uses the Docker backend when an engine answers (building the local
 * runner image if it is missing), and runner subprocesses otherwise, and says
 * which it chose. Runners boot, compute, stream, go idle and are shut down;
 * the demo ends with nothing left running.
 *
 * @module
 */

import { type Backend, type CallContext, type FlameEvent, Pool } from "../mod.ts";
import { chooseDemoBackend } from "./_demo_backend.ts";

const t0 = performance.now();
const at = () => `${((performance.now() - t0) / 1000).toFixed(2).padStart(6)}s`;
const live = Deno.stdout.isTerminal();
let liveLine = false;
const say = (msg: string) => {
  if (liveLine) Deno.stdout.writeSync(new TextEncoder().encode("\r\x1b[2K"));
  liveLine = false;
  console.log(`${at()}  ${msg}`);
};

/** Boot phases and pull progress: one line redrawn in place on a terminal, quiet otherwise. */
const phases = new Map<string, string>();
function progress(e: FlameEvent): void {
  const runner = String(e.attributes["flame.runner.id"] ?? "");
  if (e.name === "flame.runner.boot.phase") phases.set(runner, String(e.attributes["flame.phase"]));
  else if (e.name === "flame.runner.boot.end") phases.delete(runner);
  else if (e.name === "flame.image.pull.progress") {
    phases.set("pull", `${e.attributes["flame.status"]} ${e.attributes["flame.progress"] ?? ""}`);
  } else return;
  if (!live || phases.size === 0) return;
  const text = [...phases].map(([id, phase]) => `${id}: ${phase}`).join("  ");
  Deno.stdout.writeSync(new TextEncoder().encode(`\r\x1b[2K${at()}  … ${text}`));
  liveLine = true;
}

const { backend, description, cleanup } = await chooseDemoBackend(say);
say(`backend: ${description}`);

await using pool = new Pool({
  name: "demo",
  backend: backend satisfies Backend,
  max: 3,
  maxConcurrency: 2,
  idleShutdownAfter: 1500,
  onGrowStart: (e) => say(`booting runner ${e.runnerId}`),
  onGrowEnd: (e) =>
    say(
      e.ok
        ? `runner ${e.runnerId} connected and authenticated in ${e.durationMs} ms`
        : `runner ${e.runnerId} failed to boot: ${e.error?.message}`,
    ),
  onShrink: (e) => say(`runner ${e.runnerId} leaves the pool (${e.reason})`),
  onEvent: progress,
});

say("one call, cold: the pool has no runner yet");
const sum = await pool.call((a: number, b: number) => a + b, [20, 22]);
say(`20 + 22 = ${sum}, computed on a runner`);

say("six CPU-heavy calls at once: the pool grows to its max of 3 runners");
const primes = await Promise.all(
  [8_000_000, 8_100_000, 8_200_000, 8_300_000, 8_400_000, 8_500_000].map((limit) =>
    pool.call(function (this: CallContext, n: number) {
      const sieve = new Uint8Array(n + 1);
      let count = 0;
      for (let i = 2; i <= n; i++) {
        if (sieve[i]) continue;
        count++;
        for (let j = i * i; j <= n; j += i) sieve[j] = 1;
      }
      return { n, count, runner: this.runnerId };
    }, [limit])
  ),
);
for (const p of primes) say(`  ${p.count} primes ≤ ${p.n} (runner ${p.runner})`);

say("a stream: an async generator's values arrive as they are produced");
const ticks = await pool.call(async function* (count: number) {
  for (let i = 1; i <= count; i++) {
    await new Promise((r) => setTimeout(r, 100));
    yield `tick ${i}/${count}`;
  }
}, [3]);
for await (const tick of ticks) say(`  ${tick}`);

say(`stats: ${JSON.stringify(pool.stats())}`);
say("waiting for idle runners to be shut down...");
while (pool.stats().runners > 0) await new Promise((r) => setTimeout(r, 100));
say("all runners gone; closing the pool");
await pool.close();
await cleanup();
say("done");
