/**
 * Code sync (issue 19): a cold call with code sync against a cold call with
 * the code on the runner's disk (ProcessBackend runners see the parent's
 * files: the baked-in case), same run, same 1 MB module graph, alternating
 * rounds. Also: the artifact build at the parent (first, and cached: the
 * freshness check only) and the transfer to the runner (`flame.code.ship`).
 *
 * @module
 */

import { ProcessBackend } from "../src/backends/process.ts";
import { CodeBuilder } from "../src/parent/code_sync.ts";
import { Pool } from "../src/parent/pool.ts";
import type { FlameEvent } from "../src/events.ts";
import { emit, type Reported } from "./_report.ts";
import { median } from "./_stats.ts";

/** A module graph of about `bytes`: an entry and a data module it imports. */
async function graph(bytes: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "flame-code-bench-" });
  const rows = Array.from(
    { length: Math.ceil(bytes / 100) },
    (_, i) => `row ${i} `.padEnd(96, "x"),
  );
  await Deno.writeTextFile(
    `${dir}/data.ts`,
    `export const rows: string[] = ${JSON.stringify(rows)};\n`,
  );
  await Deno.writeTextFile(
    `${dir}/entry.ts`,
    `import { rows } from "./data.ts";\nexport function count(): number { return rows.length; }\n`,
  );
  return `file://${dir}/entry.ts`;
}

async function coldCall(spec: string, sync: boolean, ships: number[]): Promise<number> {
  const pool = new Pool({
    backend: new ProcessBackend(),
    max: 1,
    bootTimeout: 60_000,
    timeout: 60_000,
    code: sync ? "sync" : "image",
    onEvent: (e: FlameEvent) => {
      if (e.name === "flame.code.ship") ships.push(e.attributes["flame.duration_ms"] as number);
    },
  });
  try {
    const t0 = performance.now();
    await pool.module<{ count(): number }>(spec).count();
    return performance.now() - t0;
  } finally {
    await pool.close();
  }
}

/**
 * Runs the code-sync figures.
 *
 * @param rounds Cold calls per side.
 * @returns The figures (also printed as `BENCH` lines).
 */
export async function runCodeSyncBench(rounds: number): Promise<Reported[]> {
  const spec = await graph(1 << 20);
  const dir = new URL(".", spec).pathname;
  try {
    const builder = new CodeBuilder(64 << 20);
    let t0 = performance.now();
    const artifact = await builder.current(spec);
    const firstBuild = performance.now() - t0;
    t0 = performance.now();
    await builder.current(spec, true);
    const cachedBuild = performance.now() - t0;
    // Warm both paths once (the runner's own module cache, the bundler's).
    const ships: number[] = [];
    await coldCall(spec, false, ships);
    await coldCall(spec, true, ships);
    ships.length = 0;
    const image: number[] = [];
    const sync: number[] = [];
    for (let i = 0; i < rounds; i++) {
      image.push(await coldCall(spec, false, ships));
      sync.push(await coldCall(spec, true, ships));
    }
    const section = "code-sync/process";
    return [
      emit({
        section,
        name: `cold call, code sync (${(artifact.bytes.length / 1e6).toFixed(2)} MB artifact)`,
        value: median(sync),
        unit: "ms",
        baseline: { name: "cold call, code on the runner's disk", value: median(image) },
        target: { op: "<=", bound: 1.1 },
        note: `${rounds} rounds each`,
      }),
      emit({ section, name: "artifact build at the parent, first", value: firstBuild, unit: "ms" }),
      emit({
        section,
        name: "artifact build at the parent, cached (files checked)",
        value: cachedBuild,
        unit: "ms",
      }),
      emit({ section, name: "artifact transfer to the runner", value: median(ships), unit: "ms" }),
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
