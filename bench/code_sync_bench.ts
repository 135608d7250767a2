/**
 * Code sync (issue 19): a cold call with code sync against a cold call with
 * the code baked in, same run, same 1 MB module graph, alternating rounds.
 * On DockerBackend (the figure the goal is for): a runner from the test
 * image that receives the artifact, against a runner from an image built in
 * this run FROM the same image with the graph copied in at the parent's path
 * and `deno cache`d. On ProcessBackend (contrast): runners that read the
 * parent's own files, with Deno's module and code cache warm. Also: the
 * artifact build at the parent (first, and cached: the freshness check
 * only), the transfer as the parent sees it (`flame.code.ship`), and a 5 MB
 * artifact's cold call against a 1 KB one's (the share of transfer, store
 * and import).
 *
 * @module
 */

import { DockerBackend } from "../src/backends/docker/docker_backend.ts";
import { ProcessBackend } from "../src/backends/process.ts";
import type { Backend } from "../src/backends/backend.ts";
import { CodeBuilder } from "../src/parent/code_sync.ts";
import { Pool } from "../src/parent/pool.ts";
import type { FlameEvent } from "../src/events.ts";
import { BENCH_LABEL, docker, RUN_LABEL } from "./_docker_cli.ts";
import type { DockerBenchContext } from "./docker_bench.ts";
import { emit, type Reported } from "./_report.ts";
import { median } from "./_stats.ts";

/** A module graph of about `bytes`: an entry and a data module it imports. */
async function graph(bytes: number): Promise<string> {
  // Under /tmp: the same path exists in the scratch test image, so the graph can be baked at it.
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "flame-code-bench-" });
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

async function coldCall(
  spec: string,
  sync: boolean,
  ships: number[],
  backend: () => Backend = () => new ProcessBackend(),
): Promise<number> {
  const pool = new Pool({
    backend: backend(),
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
 * The alternative to a bundle, measured: ship the module graph's files as
 * they are (what `deno info` lists) and import them on the runner. A fresh
 * runner's module cache has none of them, so it must transpile; the bundle
 * is one JavaScript module. Median of `rounds` fresh processes, each with a
 * new `DENO_DIR`, importing both (graph first).
 */
async function freshImports(
  spec: string,
  artifact: Uint8Array,
  rounds: number,
): Promise<{ graph: number; bundle: number; graphCollect: number; graphBytes: number }> {
  const src = new URL(".", spec).pathname;
  const dir = await Deno.makeTempDir({ prefix: "flame-code-bench-fresh-" });
  try {
    // What a graph-shipping parent would collect: `deno info`, then each local file.
    const t0 = performance.now();
    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--no-lock", spec],
      stdout: "piped",
      stderr: "null",
    }).output();
    const modules = (JSON.parse(new TextDecoder().decode(info.stdout)) as {
      modules: { local?: string }[];
    }).modules;
    let graphBytes = 0;
    for (const m of modules) {
      if (m.local !== undefined) graphBytes += (await Deno.readFile(m.local)).length;
    }
    const graphCollect = performance.now() - t0;
    await Deno.mkdir(`${dir}/graph`);
    for await (const e of Deno.readDir(src)) {
      if (e.isFile) await Deno.copyFile(`${src}/${e.name}`, `${dir}/graph/${e.name}`);
    }
    await Deno.writeFile(`${dir}/bundle.mjs`, artifact);
    const entry = `${dir}/graph/${new URL(spec).pathname.split("/").pop()}`;
    const graph: number[] = [];
    const bundle: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const cache = `${dir}/cache-${i}`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `let t = performance.now(); await import(${JSON.stringify(`file://${entry}`)});
           const g = performance.now() - t; t = performance.now();
           await import(${JSON.stringify(`file://${dir}/bundle.mjs`)});
           console.log(JSON.stringify([g, performance.now() - t]));`,
        ],
        env: { DENO_DIR: cache, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
      const [g, b] = JSON.parse(new TextDecoder().decode(out.stdout)) as [number, number];
      graph.push(g);
      bundle.push(b);
    }
    return { graph: median(graph), bundle: median(bundle), graphCollect, graphBytes };
  } finally {
    await Deno.remove(dir, { recursive: true });
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
    const fresh = await freshImports(spec, artifact.bytes, rounds);
    const section = "code-sync/process";
    return [
      emit({
        section,
        name: "runner import, fresh module cache: the bundle (what code sync ships)",
        value: fresh.bundle,
        unit: "ms",
        baseline: {
          name: `the graph's ${(fresh.graphBytes / 1e6).toFixed(2)} MB of files as they are`,
          value: fresh.graph,
        },
        note: `shipping the graph instead: collected (deno info, read) in ${
          fresh.graphCollect.toFixed(0)
        } ms, then transpiled by every runner`,
      }),
      emit({
        section,
        name: `cold call, code sync (${(artifact.bytes.length / 1e6).toFixed(2)} MB artifact)`,
        value: median(sync),
        unit: "ms",
        baseline: {
          name: "cold call, code on the runner's disk (Deno's module and code caches warm)",
          value: median(image),
        },
        note: `${rounds} rounds each; contrast: the goal is DockerBackend's figure`,
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

/** Builds `tag` FROM `image` with the graph's directory copied in at the same path and cached. */
async function bakedImage(ctx: DockerBenchContext, spec: string, tag: string): Promise<void> {
  const dir = new URL(".", spec).pathname.replace(/\/$/, "");
  const build = await Deno.makeTempDir({ prefix: "flame-code-bench-ctx-" });
  try {
    await Deno.mkdir(`${build}/graph`);
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile) await Deno.copyFile(`${dir}/${e.name}`, `${build}/graph/${e.name}`);
    }
    await Deno.writeTextFile(
      `${build}/Dockerfile`,
      [
        `FROM ${ctx.image}`,
        `COPY graph/ ${dir}/`,
        `RUN ["deno", "cache", "${new URL(spec).pathname}"]`,
        `LABEL ${BENCH_LABEL}=bench ${RUN_LABEL}=${ctx.net.runId}`,
      ].join("\n") + "\n",
    );
    await docker("build", "-q", "--network", "none", "-t", tag, build);
  } finally {
    await Deno.remove(build, { recursive: true });
  }
}

/**
 * The code-sync figures on DockerBackend (see the module doc).
 *
 * @param ctx The Docker bench's network, image and socket.
 * @param rounds Cold calls per side.
 * @returns The figures (also printed as `BENCH` lines).
 */
export async function runDockerCodeSyncBench(
  ctx: DockerBenchContext,
  rounds: number,
): Promise<Reported[]> {
  const spec = await graph(1 << 20);
  const big = await graph(5 << 20);
  const tiny = await graph(1 << 10);
  const tag = `flame-code-bench-baked:${ctx.net.runId}`;
  const backend = (image: string) => () =>
    new DockerBackend({
      image,
      network: ctx.net.name,
      dockerSocketPath: ctx.socket,
      labels: ctx.net.labels,
      pull: "never",
      stopTimeout: 1000,
    });
  try {
    await bakedImage(ctx, spec, tag);
    const ships: number[] = [];
    const bigShips: number[] = [];
    // Warm both paths once (the engine's image layers, the bundler).
    await coldCall(spec, false, ships, backend(tag));
    await coldCall(spec, true, ships, backend(ctx.image));
    await coldCall(big, true, bigShips, backend(ctx.image));
    await coldCall(tiny, true, [], backend(ctx.image));
    ships.length = 0;
    bigShips.length = 0;
    const baked: number[] = [];
    const sync: number[] = [];
    const bigSync: number[] = [];
    const tinySync: number[] = [];
    for (let i = 0; i < rounds; i++) {
      baked.push(await coldCall(spec, false, ships, backend(tag)));
      sync.push(await coldCall(spec, true, ships, backend(ctx.image)));
      bigSync.push(await coldCall(big, true, bigShips, backend(ctx.image)));
      tinySync.push(await coldCall(tiny, true, [], backend(ctx.image)));
    }
    const section = "code-sync/docker";
    const bigMs = median(bigSync);
    const tinyMs = median(tinySync);
    return [
      emit({
        section,
        name: "cold call, code sync (1 MB graph)",
        value: median(sync),
        unit: "ms",
        baseline: { name: "cold call, the same graph baked into the image", value: median(baked) },
        target: { op: "<=", bound: 1.1 },
        note: `${rounds} rounds each, alternating`,
      }),
      emit({
        section,
        name: "cold call, code sync (5 MB graph)",
        value: bigMs,
        unit: "ms",
        baseline: { name: "cold call, code sync (1 KB graph)", value: tinyMs },
        note: `transfer, store and import of 5 MB: ${(bigMs - tinyMs).toFixed(0)} ms, ${
          (100 * (bigMs - tinyMs) / bigMs).toFixed(0)
        }% of the cold call; written to the link in ${median(bigShips)} ms`,
      }),
    ];
  } finally {
    await docker("rmi", "-f", tag).catch(() => {});
    for (const s of [spec, big, tiny]) {
      await Deno.remove(new URL(".", s).pathname, { recursive: true });
    }
  }
}
