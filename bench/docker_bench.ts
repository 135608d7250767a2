/**
 * Docker figures, each against a same-run baseline: cold call vs `docker run`
 * of the same image opening one TCP connection back to the bench; Docker
 * client latency vs Deno's own `fetch` over the same unix socket (and the
 * docker CLI for contrast); N runners booted at once vs N parallel
 * `docker run`.
 *
 * @module
 */

import { DockerBackend } from "../src/backends/docker/docker_backend.ts";
import { DockerClient } from "../src/docker/client.ts";
import { Pool } from "../src/parent/pool.ts";
import { type BenchNetwork, docker, RUN_LABEL, runArgs } from "./_docker_cli.ts";
import { CONNECT_ONCE_SOURCE } from "./_raw.ts";
import { emit, type Reported } from "./_report.ts";
import { median, within } from "./_stats.ts";

/** What the Docker benches share. */
export interface DockerBenchContext {
  /** The run's `--internal` network. */
  net: BenchNetwork;
  /** The runner image. */
  image: string;
  /** The engine's unix socket. */
  socket: string;
  /** Fewer repetitions. */
  quick: boolean;
}

/** A listener on the gateway that counts connections (the baselines dial it). */
function countingListener(host: string) {
  const listener = Deno.listen({ hostname: host, port: 0 });
  let count = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  (async () => {
    try {
      for await (const conn of listener) {
        count++;
        conn.close();
        for (const w of waiters.filter((w) => count >= w.n)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    } catch {
      // Closed.
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get count() {
      return count;
    },
    close: () => listener.close(),
  };
}

/** `n` parallel `docker run --rm` of the connect-once script; ms until all exited. */
async function parallelDockerRun(ctx: DockerBenchContext, port: number, n: number) {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, () =>
      within(
        docker(...runArgs(ctx.net, ctx.image, CONNECT_ONCE_SOURCE, port, ["--rm"])),
        120_000,
        "docker run",
      )),
  );
  return performance.now() - t0;
}

function backend(ctx: DockerBenchContext, env?: Record<string, string>): DockerBackend {
  return new DockerBackend({
    image: ctx.image,
    network: ctx.net.name,
    dockerSocketPath: ctx.socket,
    labels: ctx.net.labels,
    pull: "never",
    stopTimeout: 1000,
    ...(env ? { env } : {}),
  });
}

interface ColdSample {
  total: number;
  phases: Record<string, number>;
  rssMb: number | undefined;
}

async function coldCall(ctx: DockerBenchContext): Promise<ColdSample> {
  const b = backend(ctx, { FLAME_LOG_LEVEL: "info" });
  const client = b.client;
  const marks: Record<string, number> = {};
  // Timing hooks: wrap this backend's own client instance (nothing else sees them).
  const create = client.containerCreate.bind(client);
  const start = client.containerStart.bind(client);
  client.containerCreate = async (...a: Parameters<typeof create>) => {
    const r = await create(...a);
    marks.created = performance.now();
    return r;
  };
  client.containerStart = async (...a: Parameters<typeof start>) => {
    const r = await start(...a);
    marks.started = performance.now();
    return r;
  };
  let runnerId = "";
  const pool = new Pool({
    backend: b,
    max: 1,
    bootTimeout: 60_000,
    timeout: 60_000,
    onGrowStart: (e) => runnerId = e.runnerId,
    onGrowEnd: () => marks.authenticated = performance.now(),
  });
  try {
    const wall0 = Date.now();
    const t0 = performance.now();
    await within(pool.call(() => 1), 90_000, "cold call");
    const total = performance.now() - t0;
    const phases: Record<string, number> = {};
    for (const k of ["created", "started"]) {
      if (marks[k] !== undefined) phases[k] = marks[k]! - t0;
    }
    // Runner-side phases, from its one info log line (wall clock, same kernel).
    const container = b.containerOf(runnerId);
    let rssMb: number | undefined;
    if (container !== undefined) {
      let text = "";
      for await (const chunk of client.containerLogs(container, { timeout: 10_000 })) {
        text += new TextDecoder().decode(chunk.data);
      }
      const m = /boot-phases process=(\d+) main=(\d+) connected=(\d+) authenticated=(\d+)/.exec(
        text,
      );
      if (m) {
        phases["process up"] = Number(m[1]) - wall0;
        phases["runner main"] = Number(m[2]) - wall0;
        phases.connected = Number(m[3]) - wall0;
      }
      try {
        const pid = (await client.containerInspect(container)).State.Pid;
        const status = await Deno.readTextFile(`/proc/${pid}/status`);
        const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
        if (kb) rssMb = Number(kb) / 1024;
      } catch {
        // Another pid namespace: no figure.
      }
    }
    if (marks.authenticated !== undefined) phases.authenticated = marks.authenticated - t0;
    phases["first result"] = total;
    return { total, phases, rssMb };
  } finally {
    await pool.close();
  }
}

/**
 * Cold call vs `docker run`, interleaved.
 *
 * @returns The figures.
 */
export async function runColdBench(ctx: DockerBenchContext): Promise<Reported[]> {
  const reps = ctx.quick ? 1 : 5;
  const listener = countingListener(ctx.net.gateway);
  const runs: number[] = [];
  const colds: ColdSample[] = [];
  try {
    // Once each untimed: page cache, image layers, network set up.
    await parallelDockerRun(ctx, listener.port, 1);
    await coldCall(ctx);
    for (let i = 0; i < reps; i++) {
      runs.push(await parallelDockerRun(ctx, listener.port, 1));
      colds.push(await coldCall(ctx));
    }
    if (listener.count < reps + 1) throw new Error("docker run baseline never connected");
  } finally {
    listener.close();
  }
  const mid = colds.toSorted((a, b) => a.total - b.total)[Math.floor((colds.length - 1) / 2)]!;
  const phases = Object.entries(mid.phases).sort((a, b) => a[1] - b[1])
    .map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ");
  const out = [emit({
    section: "docker/cold",
    name: "cold call: no runner → first result",
    value: median(colds.map((c) => c.total)),
    unit: "ms",
    baseline: { name: "docker run --rm, connect once", value: median(runs) },
    target: { op: "<=", bound: 0.9 },
    note: `phases (ms): ${phases}`,
  })];
  if (mid.rssMb !== undefined) {
    out.push(emit({
      section: "memory/docker",
      name: "idle runner RSS (container)",
      value: mid.rssMb,
      unit: "MB",
    }));
  }
  return out;
}

/**
 * Docker client p50 vs `fetch` over the same socket, and the CLI.
 *
 * @returns The figures.
 */
export async function runClientBench(ctx: DockerBenchContext): Promise<Reported[]> {
  const n = ctx.quick ? 40 : 400;
  const client = new DockerClient({ socketPath: ctx.socket });
  const http = Deno.createHttpClient({ proxy: { transport: "unix", path: ctx.socket } });
  const out: Reported[] = [];
  const id = await docker(
    "create",
    "--network",
    ctx.net.name,
    ...ctx.net.labelArgs,
    ctx.image,
  );
  try {
    const api = `/v${await client.negotiateApiVersion()}`;
    const runLabel = `${RUN_LABEL}=${ctx.net.runId}`;
    const filters = encodeURIComponent(JSON.stringify({ label: [runLabel] }));
    const ops: {
      name: string;
      ours: () => Promise<unknown>;
      fetch: string;
      cli: string[];
    }[] = [
      {
        name: "/_ping",
        ours: () => client.ping(),
        fetch: "/_ping",
        cli: ["version", "--format", "{{.Server.APIVersion}}"],
      },
      {
        name: "container inspect",
        ours: () => client.containerInspect(id),
        fetch: `${api}/containers/${id}/json`,
        cli: ["inspect", id],
      },
      {
        name: "container list (label filter)",
        ours: () =>
          client.containerList({
            all: true,
            filters: { label: [runLabel] },
          }),
        fetch: `${api}/containers/json?all=1&filters=${filters}`,
        cli: ["ps", "-a", "--filter", `label=${runLabel}`],
      },
    ];
    for (const op of ops) {
      const viaFetch = async () => {
        const res = await fetch(`http://docker${op.fetch}`, { client: http });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`fetch ${op.fetch}: ${res.status}`);
      };
      for (let i = 0; i < 20; i++) {
        await op.ours();
        await viaFetch();
      }
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let i = 0; i < n; i++) {
        let t0 = performance.now();
        await op.ours();
        ours.push((performance.now() - t0) * 1000);
        t0 = performance.now();
        await viaFetch();
        theirs.push((performance.now() - t0) * 1000);
      }
      const cli: number[] = [];
      for (let i = 0; i < (ctx.quick ? 2 : 5); i++) {
        const t0 = performance.now();
        await docker(...op.cli);
        cli.push((performance.now() - t0) * 1000);
      }
      out.push(emit({
        section: "docker/client",
        name: `${op.name} p50`,
        value: median(ours),
        unit: "µs",
        baseline: { name: "Deno fetch, same socket", value: median(theirs) },
        target: { op: "<=", bound: 1.0 },
      }));
      out.push(emit({
        section: "docker/client",
        name: `${op.name} p50 vs docker CLI (contrast)`,
        value: median(ours),
        unit: "µs",
        baseline: { name: `docker ${op.cli[0]}`, value: median(cli) },
      }));
    }
  } finally {
    http.close();
    await client.close();
    await docker("rm", "-f", id).catch(() => {});
  }
  return out;
}

async function poolBoot(
  ctx: DockerBenchContext,
  n: number,
): Promise<{ ms: number; bound: number }> {
  let bound = 0;
  const all = Promise.withResolvers<void>();
  const t0 = performance.now();
  const pool = new Pool({
    backend: backend(ctx),
    min: n,
    max: n,
    bootTimeout: 90_000,
    onGrowEnd: (e) => {
      if (e.ok && ++bound === n) all.resolve();
    },
  });
  try {
    await within(all.promise, 120_000, `${n} boots`);
    return { ms: performance.now() - t0, bound };
  } finally {
    await pool.close();
  }
}

/**
 * N runners booted at once vs N parallel `docker run`.
 *
 * @returns The figures.
 */
export async function runScaleBench(ctx: DockerBenchContext): Promise<Reported[]> {
  const out: Reported[] = [];
  const listener = countingListener(ctx.net.gateway);
  try {
    const ten = 10;
    // Repeated in alternating order (the engine's load swings on a small box).
    const bases: number[] = [];
    const ours: { ms: number; bound: number }[] = [];
    for (let r = 0; r < (ctx.quick ? 1 : 3); r++) {
      if (r % 2 === 0) {
        bases.push(await parallelDockerRun(ctx, listener.port, ten));
        ours.push(await poolBoot(ctx, ten));
      } else {
        ours.push(await poolBoot(ctx, ten));
        bases.push(await parallelDockerRun(ctx, listener.port, ten));
      }
    }
    out.push(emit({
      section: "docker/scale",
      name: `${ten} runners booted at once (all authenticated)`,
      value: median(ours.map((o) => o.ms)),
      unit: "ms",
      baseline: { name: `${ten} parallel docker run --rm`, value: median(bases) },
      target: { op: "<=", bound: 1.0 },
      note: `${Math.min(...ours.map((o) => o.bound))}/${ten} bound, median of ${ours.length}`,
    }));
    for (const n of ctx.quick ? [1, 2] : [1, 2, 4, 8, 16]) {
      const b = await parallelDockerRun(ctx, listener.port, n);
      const r = await poolBoot(ctx, n);
      out.push(emit({
        section: "docker/scale",
        name: `growth: ${n} at once`,
        value: r.ms,
        unit: "ms",
        baseline: { name: `${n} parallel docker run`, value: b },
        note: `${r.bound}/${n} bound`,
      }));
    }
  } finally {
    listener.close();
  }
  return out;
}
