/**
 * The checks of `flame-docker doctor`, one function each, and the report
 * they write to: each outcome with its fix.
 *
 * @module
 */

import { connectEndpoint } from "../docker/connection.ts";
import { hostParentAddress, vmEngineOf } from "../backends/docker/host_address.ts";
import { containerAddress, detectParentContainer } from "../backends/docker/parent_container.ts";
import { MAX_API_VERSION, MIN_API_VERSION } from "../docker/client.ts";
import type { DockerClient } from "../docker/client.ts";
import { DockerError } from "../docker/errors.ts";
import {
  type DockerEndpointCandidate,
  type DockerEndpointSource,
  formatDockerEndpoint,
} from "../docker/endpoint.ts";
import type { ContainerInspect, NetworkInspect } from "../docker/types.ts";
import type { CliIo } from "./cli_io.ts";

/** Prints each check's outcome (with its fix) and counts them. */
export class Report {
  passed = 0;
  failed = 0;
  warnings = 0;
  #io: CliIo;

  /**
   * @param io Where the lines go.
   */
  constructor(io: CliIo) {
    this.#io = io;
  }

  /** A check that passed. */
  ok(message: string): void {
    this.passed++;
    this.#io.out(`✓ ${message}`);
  }

  /** A check that failed, and how to fix it. */
  fail(message: string, fix: string): void {
    this.failed++;
    this.#io.out(`✗ ${message}`);
    this.#io.out(`  fix: ${fix}`);
  }

  /** A doubt, and how to lift it. */
  warn(message: string, fix: string): void {
    this.warnings++;
    this.#io.out(`! ${message}`);
    this.#io.out(`  fix: ${fix}`);
  }

  /** Context, not a check. */
  note(message: string): void {
    this.#io.out(`· ${message}`);
  }

  /** The counts, and whether DockerBackend is ready. */
  summary(): void {
    const parts = [`${this.passed} passed`, `${this.failed} failed`];
    if (this.warnings > 0) parts.push(`${this.warnings} warning(s)`);
    this.#io.out("");
    this.#io.out(
      `${parts.join(", ")}: ${
        this.failed === 0 ? "ready for DockerBackend" : "fix the ✗ items above"
      }.`,
    );
  }
}

function missingFix(source: DockerEndpointSource, path: string): string {
  switch (source) {
    case "option":
      return `check the path given with --socket ("${path}")`;
    case "DOCKER_HOST":
      return `point DOCKER_HOST at the engine's socket, or unset it`;
    case "DOCKER_CONTEXT":
    case "context":
      return `point the context at the engine's socket (docker context update NAME --docker host=…), or ${
        source === "context" ? "docker context use default" : "unset DOCKER_CONTEXT"
      }`;
    case "default":
      return "start the engine (sudo systemctl start docker); in a container, mount the socket: -v /var/run/docker.sock:/var/run/docker.sock";
    case "XDG_RUNTIME_DIR":
      return "start rootless Docker (systemctl --user start docker), or ignore this if the engine is rootful";
    default:
      return `start ${source} if it is the engine to use, or ignore this (tried only because /var/run/docker.sock is missing)`;
  }
}

function modeString(mode: number): string {
  const bits = "rwxrwxrwx";
  let text = "";
  for (let i = 0; i < 9; i++) text += mode & (1 << (8 - i)) ? bits[i] : "-";
  return text;
}

/** Tries one candidate; reports it; returns whether it connected. */
export async function tryCandidate(
  candidate: DockerEndpointCandidate,
  report: Report,
): Promise<boolean> {
  const context = candidate.context === undefined ? "" : ` "${candidate.context}"`;
  const from = `(from ${candidate.source === "option" ? "--socket" : candidate.source}${context})`;
  const endpoint = candidate.endpoint;
  if (endpoint === undefined) {
    const what = candidate.context !== undefined
      ? "context"
      : candidate.source === "context"
      ? "docker config"
      : `socket "${candidate.value}"`;
    report.fail(
      `${what} ${from}: ${candidate.problem ?? "unusable"}`,
      candidate.fix ?? "use a unix:///path, tcp://host:port or ssh://host address",
    );
    return false;
  }
  const url = formatDockerEndpoint(endpoint);
  try {
    if (endpoint.transport === "unix") {
      const info = await Deno.stat(endpoint.path);
      if (!info.isSocket) {
        report.fail(
          `socket ${url} ${from}: "${endpoint.path}" is not a socket`,
          "point at the engine's socket file",
        );
        return false;
      }
      const conn = await Deno.connect({ transport: "unix", path: endpoint.path });
      conn.close();
      const owner = info.uid === null ? "" : `, owner ${info.uid}:${info.gid}`;
      report.ok(`socket ${url} ${from}: connected`);
      report.ok(
        `permissions: ${modeString(info.mode ?? 0)}${owner}; this process (uid ${
          Deno.uid() ?? "?"
        }) can read and write it`,
      );
    } else {
      const socket = await connectEndpoint(endpoint);
      socket.close();
      report.ok(`socket ${url} ${from}: connected`);
    }
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      report.fail(
        `socket ${url} ${from}: missing`,
        missingFix(candidate.source, candidate.value),
      );
    } else if (error instanceof Deno.errors.NotCapable) {
      report.fail(
        `socket ${url} ${from}: Deno permission denied`,
        "run the CLI with -A (or --allow-read --allow-write for the socket, --allow-net for tcp)",
      );
    } else if (error instanceof Deno.errors.PermissionDenied) {
      report.fail(
        `socket ${url} ${from}: permission denied (uid ${Deno.uid() ?? "?"})`,
        "add your user to the socket's group (sudo usermod -aG docker $USER, then log in again), or run as a user who may use it",
      );
    } else if (error instanceof Deno.errors.ConnectionRefused) {
      report.fail(
        `socket ${url} ${from}: refused (nothing listens)`,
        "start the engine (sudo systemctl start docker); a stale socket file is left when dockerd died",
      );
    } else {
      report.fail(
        `socket ${url} ${from}: ${(error as Error).message}`,
        "check that the engine runs and listens there",
      );
    }
    return false;
  }
}

function apiCompare(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/** Checks the engine; returns false when it does not answer as an engine. */
export async function checkEngine(client: DockerClient, report: Report): Promise<boolean> {
  try {
    const ping = await client.ping({ timeout: 10_000 });
    const v = await client.version({ timeout: 10_000 });
    const min = v.MinAPIVersion ?? "?";
    const name = ping.engine === "podman"
      ? `Podman ${ping.podmanVersion ?? v.Version} (Docker-compatible API)`
      : `engine ${v.Version}`;
    const engine = `${name} on ${v.Os}/${v.Arch}, API ${min}–${v.ApiVersion}`;
    if (apiCompare(v.ApiVersion, MIN_API_VERSION) < 0) {
      report.fail(
        `${engine}: older than flame-docker's API ${MIN_API_VERSION}–${MAX_API_VERSION}`,
        "upgrade Docker",
      );
    } else if (v.MinAPIVersion !== undefined && apiCompare(v.MinAPIVersion, MAX_API_VERSION) > 0) {
      report.fail(
        `${engine}: refuses API ${MAX_API_VERSION} and older, which flame-docker speaks (${MIN_API_VERSION}–${MAX_API_VERSION})`,
        `upgrade flame-docker, or start dockerd with DOCKER_MIN_API_VERSION=${MAX_API_VERSION} in its environment`,
      );
    } else {
      report.ok(
        `${engine}; flame-docker speaks ${MIN_API_VERSION}–${MAX_API_VERSION} and uses API ${
          client.apiVersion ?? MAX_API_VERSION
        }`,
      );
    }
    return true;
  } catch (error) {
    report.fail(
      `engine: ${(error as Error).message}`,
      "check that the socket belongs to a Docker engine (or a proxy that allows /_ping and /version)",
    );
    return false;
  }
}

/** The container this process runs in, if the engine knows it (on Docker or Podman). */
export async function detectSelf(client: DockerClient): Promise<ContainerInspect | undefined> {
  return (await detectParentContainer(client, 10_000))?.container;
}

/** Networks every engine has; runners cannot resolve names on them. */
export const BUILTIN_NETWORKS = ["bridge", "host", "none", "podman"];

/** Checks the runners' network; returns it when runners can use it. */
export async function checkNetwork(
  client: DockerClient,
  name: string,
  report: Report,
): Promise<NetworkInspect | undefined> {
  let network: NetworkInspect;
  try {
    network = await client.networkInspect(name, { timeout: 10_000 });
  } catch (error) {
    if (error instanceof DockerError && error.notFound) {
      report.fail(
        `network "${name}" does not exist`,
        `docker network create ${name}   (add --internal to keep runners off the internet)`,
      );
      return undefined;
    }
    throw error;
  }
  if (BUILTIN_NETWORKS.includes(network.Name) || ["host", "null"].includes(network.Driver)) {
    report.fail(
      `network "${network.Name}" is built in, not user-defined: runners cannot resolve the parent's name on it`,
      'docker network create my_net, and pass network: "my_net" (--network my_net here)',
    );
    return undefined;
  }
  report.ok(
    `network "${network.Name}" exists: user-defined, driver ${network.Driver}, ${
      network.Internal
        ? "internal (no outside access; runners still reach the parent)"
        : "not internal"
    }`,
  );
  return network;
}

/** Checks that the image is present and its command looks like a runner. */
export async function checkImage(
  client: DockerClient,
  image: string,
  report: Report,
): Promise<void> {
  let inspect;
  try {
    inspect = await client.imageInspect(image, { timeout: 10_000 });
  } catch (error) {
    if (error instanceof DockerError && error.notFound) {
      report.fail(
        `image "${image}" is not present locally (the first boot would pull it)`,
        `docker pull ${image}   (or build it; with pull: "never" it must be present)`,
      );
      return;
    }
    throw error;
  }
  report.ok(`image "${image}" is present (${inspect.Id.slice(7, 19)})`);
  const command = [...(inspect.Config?.Entrypoint ?? []), ...(inspect.Config?.Cmd ?? [])];
  const text = command.join(" ");
  if (command.length === 0) {
    report.fail(
      `image "${image}" has no CMD or Entrypoint: a runner container would not start`,
      'set CMD ["deno", "run", "--allow-all", "runner.ts"] in the image, or pass cmd to DockerBackend',
    );
  } else if (/runner/i.test(text) || inspect.Config?.Labels?.["dev.flame-docker.image"]) {
    report.ok(`image command looks like a runner: ${text}`);
  } else {
    report.warn(
      `image command does not look like a runner: ${text}`,
      "the CMD must start runner.ts (deno run --allow-all runner.ts, or its deno compile binary), or pass cmd to DockerBackend",
    );
  }
}

/** Checks that runners on `network` could reach the parent. */
export async function checkReachable(
  client: DockerClient,
  self: ContainerInspect | undefined,
  network: NetworkInspect,
  report: Report,
): Promise<void> {
  if (self !== undefined) {
    const name = self.Name.replace(/^\//, "");
    // What DockerBackend gives its runners to dial, tested as they would use it.
    const address = containerAddress(self, network.Name);
    if (address === undefined) {
      report.fail(
        `parent unreachable: this container "${name}" is not on network "${network.Name}"`,
        `docker network connect ${network.Name} ${name}`,
      );
      return;
    }
    const problem = await acceptsAt(address.listenHost, address.dialHost);
    if (problem === undefined) {
      report.ok(
        `parent reachable: runners dial this container at ${address.dialHost}, its address on "${network.Name}" (not its name "${name}", which the engine's DNS serves only when given with --name); a connection there arrives`,
      );
    } else {
      report.fail(
        `parent unreachable: runners would dial ${address.dialHost}, this container's address on "${network.Name}", but ${problem}`,
        "run the CLI with -A (--allow-net), in the parent's container",
      );
    }
    return;
  }
  const gateway = network.IPAM.Config?.find((c) => c.Gateway)?.Gateway;
  if (gateway === undefined) {
    report.fail(
      `parent unreachable: network "${network.Name}" has no IPv4 gateway for a parent on the host to listen on`,
      "recreate the network with a gateway (docker network create --subnet … --gateway …), or set parentHost and listenHost",
    );
    return;
  }
  try {
    const listener = Deno.listen({ hostname: gateway, port: 0 });
    listener.close();
    report.ok(
      `parent reachable: on the host, it can listen on the gateway ${gateway} that runners dial`,
    );
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      report.fail(
        `parent unreachable: cannot listen on the gateway ${gateway}: ${(error as Error).message}`,
        "run the CLI with -A (--allow-net)",
      );
      return;
    }
    const ping = await client.ping({ timeout: 10_000 }).catch(() => undefined);
    const localPodman = ping?.engine === "podman" && client.endpoint?.transport === "unix";
    const info = await client.info({ timeout: 10_000 }).catch(() => undefined);
    try {
      const address = hostParentAddress({
        network: network.Name,
        gateway,
        gatewayIsLocal: false,
        info,
        localPodman,
      });
      if (localPodman) {
        report.ok(
          `parent reachable: Podman brings up the bridge of "${network.Name}" (gateway ${gateway}) only when its first container joins, so the parent listens on every interface and accepts only connections that arrive at ${gateway}`,
        );
        return;
      }
      report.ok(
        `parent reachable: the engine runs in a VM (${
          info === undefined ? "" : vmEngineOf(info)?.engine
        }); runners dial ${address.dialHost}, which arrives on this machine's ${address.listenHost}`,
      );
      return;
    } catch (unreachable) {
      report.fail(
        `parent unreachable: ${
          (unreachable as Error).message.replace(/; set the "parentHost".*$/, "")
        }`,
        "run the parent in a container on the network, or set parentHost and listenHost to an address of this machine that runners can reach",
      );
      return;
    }
  }
}

/**
 * Listens on `listenHost` and dials `dialHost` at that port, as a runner
 * would: `undefined` when the connection arrives, else what went wrong.
 */
async function acceptsAt(listenHost: string, dialHost: string): Promise<string | undefined> {
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: listenHost, port: 0 });
  } catch (error) {
    return `it cannot listen there: ${(error as Error).message}`;
  }
  try {
    const accepted = listener.accept();
    accepted.catch(() => {}); // Closed unaccepted when the dial fails.
    const conn = await Deno.connect({ hostname: dialHost, port: listener.addr.port });
    conn.close();
    (await accepted).close();
    return undefined;
  } catch (error) {
    return `a connection there does not arrive: ${(error as Error).message}`;
  } finally {
    listener.close();
  }
}
