/**
 * The docker CLI, for baselines and for setting up what the bench measures
 * against (networks, echo containers), with the bench's labels on all of it.
 *
 * @module
 */

/** Label on everything the bench creates. */
export const BENCH_LABEL = "dev.flame-docker.test";
/** Per-run label, so cleanup touches only this run's leftovers. */
export const RUN_LABEL = "dev.flame-docker.bench-run";

/** Runs `docker ...`; returns trimmed stdout, throws with stderr on failure. */
export async function docker(...args: string[]): Promise<string> {
  const out = await new Deno.Command("docker", { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(
      `docker ${args.slice(0, 3).join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(out.stdout).trim();
}

export { engineAnswers } from "../tests/_helpers/docker.ts";

/** A fresh `--internal` network for one bench run, and its gateway. */
export interface BenchNetwork {
  /** The network's name. */
  name: string;
  /** Its IPv4 gateway (the host's address on it). */
  gateway: string;
  /** The run id (value of {@linkcode RUN_LABEL}). */
  runId: string;
  /** `--label` arguments for containers of this run. */
  labelArgs: string[];
  /** Labels for `DockerBackend`'s `labels` option. */
  labels: Record<string, string>;
}

/** Creates the run's network. */
export async function createNetwork(): Promise<BenchNetwork> {
  const runId = crypto.randomUUID().slice(0, 8);
  const name = `flame-bench-${runId}`;
  await docker(
    "network",
    "create",
    "--internal",
    "--label",
    `${BENCH_LABEL}=bench`,
    "--label",
    `${RUN_LABEL}=${runId}`,
    name,
  );
  const gateway = await docker(
    "network",
    "inspect",
    "--format",
    "{{range .IPAM.Config}}{{.Gateway}} {{end}}",
    name,
  );
  const ipv4 = gateway.split(" ").find((g) => /^\d+\.\d+\.\d+\.\d+$/.test(g));
  if (ipv4 === undefined) {
    await docker("network", "rm", name).catch(() => {});
    throw new Error(`Network "${name}" has no IPv4 gateway`);
  }
  return {
    name,
    gateway: ipv4,
    runId,
    labelArgs: ["--label", `${BENCH_LABEL}=bench`, "--label", `${RUN_LABEL}=${runId}`],
    labels: { [BENCH_LABEL]: "bench", [RUN_LABEL]: runId },
  };
}

/** Removes every container of the run, then its network. Never throws. */
export async function removeNetwork(net: BenchNetwork): Promise<void> {
  try {
    const ids = await docker("ps", "-aq", "--filter", `label=${RUN_LABEL}=${net.runId}`);
    if (ids !== "") await docker("rm", "-f", ...ids.split("\n"));
  } catch (err) {
    console.error(`bench: cannot remove containers of run ${net.runId}: ${err}`);
  }
  for (let i = 0; i < 5; i++) {
    try {
      await docker("network", "rm", net.name);
      return;
    } catch {
      // A container still detaching: retry briefly.
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  console.error(`bench: cannot remove network ${net.name}`);
}

/**
 * Runs `deno eval <source>` in a container of the image on the network,
 * with `BENCH_HOST`/`BENCH_PORT` set.
 *
 * @returns The `docker run` arguments.
 */
export function runArgs(
  net: BenchNetwork,
  image: string,
  source: string,
  port: number,
  extra: string[] = [],
): string[] {
  return [
    "run",
    ...extra,
    "--network",
    net.name,
    ...net.labelArgs,
    "-e",
    `BENCH_HOST=${net.gateway}`,
    "-e",
    `BENCH_PORT=${port}`,
    image,
    "/usr/local/bin/deno",
    "eval",
    source,
  ];
}
