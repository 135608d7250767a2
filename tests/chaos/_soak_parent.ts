/**
 * The memory soak's parent, run in its own process (with `--expose-gc`) so
 * its memory is its own: warm process runners, then many calls; prints the
 * memory before and after as one JSON line.
 *
 * Usage: deno run -A --v8-flags=--expose-gc _soak_parent.ts <calls>
 */

import { Pool, ProcessBackend } from "../../mod.ts";

const calls = Number(Deno.args[0] ?? 100_000);
// V8 grows its heap reservation (not its live heap) over the first ~75 000
// calls, then RSS stays put: measure after that, so growth means a leak.
const WARMUP = 100_000;
const gc = (globalThis as unknown as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("Run with --v8-flags=--expose-gc");

function settle(): { rss: number; heap: number; heapTotal: number; external: number } {
  for (let i = 0; i < 3; i++) gc!();
  const m = Deno.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
}

async function run(pool: Pool, n: number, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      const out = await pool.call((x: number, s: string) => ({ x, s }), [i, "payload-" + i]);
      if (out.x !== i) throw new Error(`call ${i} got ${out.x}`);
    }
  }));
}

const pool = new Pool({
  backend: new ProcessBackend(),
  name: "soak",
  min: 2,
  max: 2,
  maxConcurrency: 64,
  idleShutdownAfter: Infinity,
});
const start = settle();
await run(pool, WARMUP, 128);
await new Promise((r) => setTimeout(r, 100));
const before = settle();
const started = Date.now();
await run(pool, calls, 128);
const elapsed = Date.now() - started;
await new Promise((r) => setTimeout(r, 100));
const after = settle();
const stats = pool.stats();
await pool.close();
console.log(JSON.stringify({ calls, warmup: WARMUP, elapsed, start, before, after, stats }));
