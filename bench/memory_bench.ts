/**
 * Memory figures for ProcessBackend runners: parent memory per idle runner
 * connection, and the idle runner's own RSS. (Parent RSS growth over many
 * warm calls is measured in `warm_bench.ts`.)
 *
 * @module
 */

import { ProcessBackend } from "../src/backends/process.ts";
import { Pool } from "../src/parent/pool.ts";
import { emit, type Reported } from "./_report.ts";
import { collectGarbage, median, sleep, within } from "./_stats.ts";

/** RSS in MB of this process's children whose command line contains `runner.ts`. */
async function runnerRss(): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== Deno.pid) continue;
      const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (!cmd.includes("runner.ts")) continue;
      const kb = /VmRSS:\s+(\d+)/.exec(await Deno.readTextFile(`/proc/${e.name}/status`))?.[1];
      if (kb) out.push(Number(kb) / 1024);
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/**
 * Boots `n` idle ProcessBackend runners and measures.
 *
 * @returns The figures.
 */
export async function runMemoryBench(n: number): Promise<Reported[]> {
  const out: Reported[] = [];
  let up = 0;
  const all = Promise.withResolvers<void>();
  const collected = collectGarbage();
  const before = Deno.memoryUsage();
  const pool = new Pool({
    backend: new ProcessBackend(),
    min: n,
    max: n,
    bootTimeout: 60_000,
    onGrowEnd: (e) => {
      if (e.ok && ++up === n) all.resolve();
    },
  });
  try {
    await within(all.promise, 90_000, `${n} runners`);
    await sleep(300);
    collectGarbage();
    const after = Deno.memoryUsage();
    const js = (after.heapUsed + after.external - before.heapUsed - before.external) / n;
    out.push(emit({
      section: "memory/process",
      name: `parent JS heap + external per idle runner connection (${n} runners)`,
      value: js / 1024,
      unit: "KiB",
      note: `RSS delta per runner ${((after.rss - before.rss) / n / 1e6).toFixed(2)} MB${
        collected ? "" : "; no forced GC (run with --v8-flags=--expose-gc)"
      }`,
    }));
    const rss = await runnerRss();
    if (rss.length > 0) {
      out.push(emit({
        section: "memory/process",
        name: "idle runner RSS (deno run runner.ts)",
        value: median(rss),
        unit: "MB",
        note: `${rss.length} runners`,
      }));
    }
  } finally {
    await pool.close();
  }
  return out;
}
