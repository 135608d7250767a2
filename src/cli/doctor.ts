/**
 * `flame-docker doctor`: checks, one by one, what a `DockerBackend` needs —
 * the socket, the engine and its API version, the network, the image, and
 * whether runners could reach the parent — and says how to fix each failure.
 *
 * @module
 */

import { DockerClient, MAX_API_VERSION, MIN_API_VERSION } from "../docker/client.ts";
import { type DockerEndpointCandidate, dockerEndpointCandidates } from "../docker/endpoint.ts";
import { clientFor, COMMON_OPTIONS, parseCommand, PROG } from "./_common.ts";
import {
  BUILTIN_NETWORKS,
  checkEngine,
  checkImage,
  checkNetwork,
  checkReachable,
  detectSelf,
  Report,
  tryCandidate,
} from "./_doctor_checks.ts";
import type { CliIo } from "./cli_io.ts";
import { ExitCode } from "./exit_code.ts";

/** Help text of `doctor`. */
export const DOCTOR_HELP = `Usage: ${PROG} doctor [--network NAME] [--image NAME] [--socket PATH]

Checks what a DockerBackend needs and says how to fix what fails:
  - the Docker engine chosen, and why: --socket, else DOCKER_HOST, else
    DOCKER_CONTEXT, else the current docker context, else
    /var/run/docker.sock, else (only when that is missing) the rootless and
    laptop sockets (Docker Desktop, Colima, OrbStack, Rancher Desktop,
    Podman); each candidate tried and why it failed
  - permissions on the socket
  - the engine and its API range (flame-docker speaks ${MIN_API_VERSION}–${MAX_API_VERSION})
  - the network: exists, user-defined, internal, gateway
  - the image: present locally, CMD/Entrypoint that runs the runner
  - whether runners could reach the parent: its container name on the
    network, or (parent on the host) the network gateway it must listen on,
    or a VM engine's host alias (Docker Desktop, OrbStack, Colima, …)
In a container, the network and image default to this container's own.

Options:
  --network NAME  the network runners join
  --image NAME    the runner image
  --socket PATH   the Docker socket (path, unix:// or tcp:// URL)
  -h, --help      this help

Exit codes: 0 every check passed, 1 a check failed, 2 usage error,
3 engine unreachable.`;

/**
 * Runs `doctor`.
 *
 * @param args The arguments after `doctor`.
 * @param io Where to write.
 * @returns The exit code.
 */
export async function doctor(args: string[], io: CliIo): Promise<number> {
  const values = parseCommand("doctor", args, {
    ...COMMON_OPTIONS,
    network: { type: "string" },
    image: { type: "string" },
  });
  if (values.help) {
    io.out(DOCTOR_HELP);
    return ExitCode.Ok;
  }
  const report = new Report(io);
  const candidates = dockerEndpointCandidates(
    values.socket === undefined ? {} : { socketPath: values.socket },
  );
  let found: DockerEndpointCandidate | undefined;
  for (const candidate of candidates) {
    if (await tryCandidate(candidate, report)) {
      found = candidate;
      break;
    }
  }
  if (found === undefined) {
    report.summary();
    io.err(
      `${PROG}: Cannot reach a Docker engine: tried ${
        candidates.map((c) => `"${c.value}"`).join(", ")
      }`,
    );
    return ExitCode.Unreachable;
  }
  await using client = found.endpoint === undefined
    ? clientFor(found.value)
    : new DockerClient({ endpoint: found.endpoint, timeout: 30_000 });
  if (!(await checkEngine(client, report))) {
    report.summary();
    return ExitCode.Unreachable;
  }
  const self = await detectSelf(client);
  report.note(
    self === undefined
      ? "the parent would run on the host (this process is not in a container the engine knows)"
      : `the parent would run in container "${self.Name.replace(/^\//, "")}"`,
  );
  const selfNetworks = Object.keys(self?.NetworkSettings.Networks ?? {})
    .filter((n) => !BUILTIN_NETWORKS.includes(n));
  const networkName = values.network ?? (selfNetworks.length === 1 ? selfNetworks[0] : undefined);
  const network = networkName === undefined
    ? undefined
    : await checkNetwork(client, networkName, report);
  if (networkName === undefined) report.note("network: not checked (pass --network NAME)");
  const image = values.image ?? self?.Config.Image;
  if (image === undefined) report.note("image: not checked (pass --image NAME)");
  else await checkImage(client, image, report);
  if (network !== undefined) await checkReachable(client, self, network, report);
  else {
    report.note(
      `parent reachability: not checked (${
        networkName === undefined ? "needs --network" : "needs a usable network"
      })`,
    );
  }
  report.summary();
  return report.failed === 0 ? ExitCode.Ok : ExitCode.Found;
}
