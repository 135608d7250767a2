/**
 * The benchmark suite: absolute figures and ratios to baselines measured in
 * the same run, as a table, plus one `BENCH {json}` line per figure.
 *
 * ```sh
 * deno task bench         # full
 * deno task bench:quick   # bounded smoke run (CI)
 * deno task bench --write-md   # also replace the table in BENCHMARKS.md
 * ```
 *
 * Docker figures run only when an engine answers and the runner image exists
 * (`deno task image`); otherwise they are reported as skipped. Everything the
 * bench creates on the engine (one `--internal` network, containers) carries
 * the `dev.flame-docker.test` label and is removed at the end, even on failure.
 *
 * @module
 */

import { DockerBackend } from "../src/backends/docker/docker_backend.ts";
import { ProcessBackend } from "../src/backends/process.ts";
import { runCodecBench } from "./codec_bench.ts";
import {
  type BenchNetwork,
  createNetwork,
  docker,
  engineAnswers,
  removeNetwork,
  runArgs,
} from "./_docker_cli.ts";
import { spawnDenoPeer } from "./_process_peer.ts";
import { ECHO_PEER_SOURCE } from "./_raw.ts";
import { emit, emitSkip, type Reported, table } from "./_report.ts";
import { runClientBench, runColdBench, runScaleBench } from "./docker_bench.ts";
import { runMemoryBench } from "./memory_bench.ts";
import { runCodeSyncBench, runDockerCodeSyncBench } from "./code_sync_bench.ts";
import { runScalingBench } from "./scaling_bench.ts";
import { runWarmBench, type WarmSizes } from "./warm_bench.ts";
import { runWorkerBench } from "./worker_bench.ts";
import type { SteadyResult } from "./steady_bench.ts";

/** Options for {@linkcode runBench}. */
export interface BenchOptions {
  /** Bounded smoke run. */
  quick?: boolean;
  /** Skip the Docker figures even when an engine answers. */
  noDocker?: boolean;
}

/** What a run produced. */
export interface BenchRun {
  /** Every figure, in order. */
  figures: Reported[];
  /** The machine, for the report. */
  machine: string;
  /** The Markdown report (machine, command, table). */
  markdown: string;
}

const SOCKET = Deno.env.get("FLAME_TEST_DOCKER_SOCKET") ?? "/var/run/docker.sock";
const IMAGE = Deno.env.get("FLAME_TEST_IMAGE") ?? "flame-docker-runner:test";

async function machine(): Promise<string> {
  let cpu = "";
  try {
    cpu = /model name\s*:\s*(.+)/.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1] ?? "";
  } catch {
    // Not Linux.
  }
  let kernel = Deno.osRelease();
  try {
    kernel = (await Deno.readTextFile("/proc/sys/kernel/osrelease")).trim();
  } catch {
    // Keep osRelease.
  }
  return `${navigator.hardwareConcurrency} CPUs${
    cpu ? ` (${cpu})` : ""
  }, Deno ${Deno.version.deno} ` +
    `(V8 ${Deno.version.v8}), ${Deno.build.os} kernel ${kernel}`;
}

async function section(
  figures: Reported[],
  name: string,
  run: () => Promise<Reported[]>,
): Promise<void> {
  try {
    figures.push(...await run());
  } catch (err) {
    figures.push(emitSkip(name, `failed: ${(err as Error).message}`));
  }
}

/** The ping-pong-only contrast rows, measured in a fresh process (`steady_bench.ts`). */
async function runSteadyContrast(quick: boolean): Promise<Reported[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("./steady_bench.ts", import.meta.url).pathname].concat(
      quick ? ["--quick"] : [],
    ),
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`steady_bench.ts exited with ${out.code}`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  const r = JSON.parse(lines[lines.length - 1]!) as SteadyResult;
  const name = "no-op call %, ping-pong only, fresh process (contrast: small young generation)";
  return [
    emit({
      section: "warm/process",
      name: name.replace("%", "p50"),
      value: r.poolP50,
      unit: "µs",
      baseline: { name: "raw echo p50", value: r.rawP50 },
    }),
    emit({
      section: "warm/process",
      name: name.replace("%", "p99"),
      value: r.poolP99,
      unit: "µs",
      baseline: { name: "raw echo p99", value: r.rawP99 },
    }),
  ];
}

/**
 * Runs the suite.
 *
 * @param options Quick or full; Docker or not.
 * @returns The figures and the report.
 */
export async function runBench(options: BenchOptions = {}): Promise<BenchRun> {
  const quick = options.quick ?? false;
  const figures: Reported[] = [];
  const sizes: WarmSizes = quick
    ? {
      rounds: 2,
      latencyCalls: 500,
      throughputCalls: 10_000,
      payloadBytes: 64 << 20,
      payloadRounds: 1,
      memoryCalls: 20_000,
    }
    : {
      rounds: 7,
      latencyCalls: 2000,
      throughputCalls: 50_000,
      payloadBytes: 64 << 20,
      payloadRounds: 5,
      memoryCalls: 100_000,
    };
  const mach = await machine();
  console.log(`machine: ${mach}`);

  await section(figures, "warm/process", () =>
    runWarmBench({
      section: "process",
      listenHost: "127.0.0.1",
      startPeer: (port, env) =>
        Promise.resolve(spawnDenoPeer(ECHO_PEER_SOURCE, "127.0.0.1", port, env)),
      backend: () => new ProcessBackend(),
      memory: true,
    }, sizes));
  await section(figures, "warm/process", () => runSteadyContrast(quick));
  await section(figures, "warm/process", () => runWorkerBench(quick ? 1000 : 6000));
  await section(figures, "memory/process", () => runMemoryBench(quick ? 2 : 8));
  await section(figures, "code-sync/process", () => runCodeSyncBench(quick ? 2 : 7));
  await section(
    figures,
    "scaling/process",
    () => runScalingBench("scaling/process", () => new ProcessBackend(), quick),
  );

  const dockerReason = options.noDocker
    ? "disabled"
    : !(await engineAnswers(SOCKET))
    ? `no engine answers on ${SOCKET}`
    : await docker("image", "inspect", "--format", "{{.Id}}", IMAGE).then(
      () => undefined,
      () => `image ${IMAGE} is missing (deno task image)`,
    );
  if (dockerReason !== undefined) {
    figures.push(emitSkip("docker", dockerReason));
  } else {
    let net: BenchNetwork | undefined;
    try {
      net = await createNetwork();
      const ctx = { net, image: IMAGE, socket: SOCKET, quick };
      const n = net;
      await section(figures, "warm/docker", () =>
        runWarmBench({
          section: "docker",
          listenHost: n.gateway,
          startPeer: async (port, env = {}) => {
            const extra = ["-d", ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`])];
            const id = await docker(...runArgs(n, IMAGE, ECHO_PEER_SOURCE, port, extra));
            return async () => {
              await docker("rm", "-f", id).catch(() => {});
            };
          },
          backend: () =>
            new DockerBackend({
              image: IMAGE,
              network: n.name,
              dockerSocketPath: SOCKET,
              labels: n.labels,
              pull: "never",
              stopTimeout: 1000,
            }),
        }, { ...sizes, memoryCalls: 0 }));
      await section(figures, "docker/cold", () => runColdBench(ctx));
      await section(figures, "docker/client", () => runClientBench(ctx));
      await section(figures, "docker/scale", () => runScaleBench(ctx));
      await section(figures, "code-sync/docker", () => runDockerCodeSyncBench(ctx, quick ? 2 : 7));
      await section(
        figures,
        "scaling/docker",
        () =>
          runScalingBench("scaling/docker", () =>
            new DockerBackend({
              image: IMAGE,
              network: n.name,
              dockerSocketPath: SOCKET,
              labels: n.labels,
              pull: "never",
              stopTimeout: 1000,
            }), quick),
      );
    } catch (err) {
      figures.push(emitSkip("docker", `failed: ${(err as Error).message}`));
    } finally {
      if (net) await removeNetwork(net);
    }
  }

  await section(figures, "codec", async () => {
    const results = await Promise.resolve(runCodecBench(true));
    return results.map((r) =>
      emit({ section: "codec", name: r.name, value: r.nsPerOp / 1000, unit: "µs/op" })
    );
  });

  const command = `deno task ${quick ? "bench:quick" : "bench"}`;
  const markdown = [
    `Machine: ${mach}`,
    "",
    `Command: \`${command}\` (${new Date().toISOString().slice(0, 10)})`,
    "",
    table(figures),
  ].join("\n");
  return { figures, machine: mach, markdown };
}

const BEGIN = "<!-- bench:begin -->";
const END = "<!-- bench:end -->";

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const run = await runBench({ quick, noDocker: Deno.args.includes("--no-docker") });
  console.log("");
  console.log(run.markdown);
  if (Deno.args.includes("--write-md")) {
    const path = new URL("../BENCHMARKS.md", import.meta.url);
    const text = await Deno.readTextFile(path).catch(() => `# Benchmarks\n\n${BEGIN}\n${END}\n`);
    const from = text.indexOf(BEGIN);
    const to = text.indexOf(END);
    if (from < 0 || to < from) throw new Error(`BENCHMARKS.md lacks the ${BEGIN} … ${END} markers`);
    await Deno.writeTextFile(
      path,
      `${text.slice(0, from + BEGIN.length)}\n${run.markdown}\n${text.slice(to)}`,
    );
    // Aligned as `deno fmt` aligns it, so `deno task check` stays clean.
    const fmt = await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", path.pathname],
      stdout: "null",
      stderr: "inherit",
    }).output();
    if (!fmt.success) console.error("deno fmt BENCHMARKS.md failed; run it by hand");
    console.log("\nwrote BENCHMARKS.md");
  }
  const missed = run.figures.filter((f) => f.met === false).length;
  console.log(`\n${missed} target(s) missed`);
}
