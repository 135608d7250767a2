/**
 * What `DockerBackend` learns from the parent's own container when the parent
 * runs in one (Docker-out-of-Docker): the image and network runners default
 * to, the container-name prefix, and the address runners dial (its address on
 * their network, which needs no name and no DNS).
 *
 * @module
 */

import type { DockerClient } from "../../docker/client.ts";
import { DockerError } from "../../docker/errors.ts";
import type { ContainerInspect } from "../../docker/types.ts";
import { cwd, hostname, pathExists, readTextFileSync } from "../../runtime.ts";
import { listenTcp } from "../../transport.ts";
import type { ParentAddress } from "../backend.ts";
import { hostParentAddress } from "./host_address.ts";
import type { ResolvedDockerBackendOptions } from "./options.ts";

/** The container the parent runs in. */
export interface ParentContainer {
  /** Its inspection. */
  container: ContainerInspect;
  /** Its only user-defined network, if it has exactly one. */
  network: string | undefined;
}

/** What the parent's process can read of its own container. */
export interface ContainerClues {
  /** `/.dockerenv` exists (Docker writes it). */
  dockerenv: boolean;
  /** `/run/.containerenv`'s text (Podman writes it; `id=` is filled only for privileged containers). */
  containerenv: string | undefined;
  /** `/proc/self/mountinfo`'s text. */
  mountinfo: string | undefined;
  /** `/proc/self/cgroup`'s text. */
  cgroup: string | undefined;
  /** This host name (Docker's and Podman's default is the short container id). */
  hostname: string;
}

/**
 * The ids or names to inspect to find the parent's own container, best
 * first: Podman's `/run/.containerenv` `id`, the container directory the
 * engine bind-mounts `/etc/hostname` (or `hosts`, `resolv.conf`) from, the
 * cgroup path (`docker-<id>`, `libpod-<id>`, `/docker/<id>`), then the host
 * name. Empty when nothing says this is a container.
 *
 * @param clues The files read from this process's view.
 * @returns Candidates to inspect, without duplicates.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { containerCandidates } from "./parent_container.ts";
 *
 * const id = "10987d4048c7e4190efc8b642dc882667fc04f877c79d1afea70771207989068";
 * const podman = containerCandidates({
 *   dockerenv: false,
 *   containerenv: "",
 *   mountinfo:
 *     `96 86 254:0 /run/containers/storage/overlay-containers/${id}/userdata/hostname /etc/hostname rw - ext4 /dev/vda rw`,
 *   cgroup: undefined,
 *   hostname: "10987d4048c7",
 * });
 * assert.deepEqual(podman, [id, "10987d4048c7"]);
 * assert.deepEqual(
 *   containerCandidates({
 *     dockerenv: false,
 *     containerenv: undefined,
 *     mountinfo: "",
 *     cgroup: "0::/",
 *     hostname: "laptop",
 *   }),
 *   [],
 * );
 * ```
 */
export function containerCandidates(clues: ContainerClues): string[] {
  const found: string[] = [];
  const containerenvId = /^id="?([0-9a-f]{64})"?$/m.exec(clues.containerenv ?? "")?.[1];
  if (containerenvId) found.push(containerenvId);
  for (const line of (clues.mountinfo ?? "").split("\n")) {
    const fields = line.split(" ");
    if (!["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"].includes(fields[4] ?? "")) continue;
    const id = /\/(?:containers|overlay-containers)\/([0-9a-f]{64})\//.exec(fields[3] ?? "")?.[1];
    if (id) found.push(id);
  }
  for (const line of (clues.cgroup ?? "").split("\n")) {
    const id = /(?:docker-|libpod-|\/docker\/|\/libpod\/)([0-9a-f]{64})(?:\.scope)?$/.exec(line)
      ?.[1];
    if (id) found.push(id);
  }
  const inContainer = clues.dockerenv || clues.containerenv !== undefined || found.length > 0;
  if (!inContainer) return [];
  found.push(clues.hostname);
  return [...new Set(found)];
}

/** A file's text, or `undefined` when it cannot be read (absent, not permitted). */
function readClue(path: string): string | undefined {
  try {
    return readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Finds the container the parent runs in, on Docker or Podman: see
 * {@linkcode containerCandidates} for how it is recognised.
 *
 * @param client The engine.
 * @param timeout Milliseconds for each inspect.
 * @returns The parent's container, or `undefined` when the parent is not in one the engine knows.
 */
export async function detectParentContainer(
  client: DockerClient,
  timeout: number,
): Promise<ParentContainer | undefined> {
  const candidates = containerCandidates({
    dockerenv: await pathExists("/.dockerenv"),
    containerenv: readClue("/run/.containerenv"),
    mountinfo: readClue("/proc/self/mountinfo"),
    cgroup: readClue("/proc/self/cgroup"),
    hostname: hostname(),
  });
  for (const candidate of candidates) {
    let container: ContainerInspect;
    try {
      container = await client.containerInspect(candidate, { timeout });
    } catch (err) {
      // Another engine's container (a parent in a container of engine A driving engine B).
      if (err instanceof DockerError && err.notFound) continue;
      throw err;
    }
    const networks = Object.keys(container.NetworkSettings.Networks ?? {})
      .filter((n) => !["bridge", "host", "none", "podman"].includes(n));
    return { container, network: networks.length === 1 ? networks[0] : undefined };
  }
  return undefined;
}

/**
 * The network runners join when the `network` option is not given.
 *
 * @param parent The parent's container.
 * @returns Its only user-defined network.
 * @throws {TypeError} When there is none to infer.
 */
export function inferNetwork(parent: ParentContainer | undefined): string {
  if (parent?.network === undefined) {
    throw new TypeError(
      'Invalid DockerBackend option "network": it is required (the parent is not in a container on a user-defined network to infer it from)',
    );
  }
  return parent.network;
}

/**
 * The runner image when the `image` option is not given.
 *
 * @param parent The parent's container.
 * @returns Its image.
 * @throws {TypeError} When the parent is not in a container.
 */
export function inferImage(parent: ParentContainer | undefined): string {
  if (parent === undefined) {
    throw new TypeError(
      'Invalid DockerBackend option "image": it is required (the parent is not in a container whose image could be reused)',
    );
  }
  return parent.container.Config.Image;
}

/**
 * The container-name prefix when the `app` option is not given: the parent
 * container's name, else the working directory's, made a valid name.
 *
 * @param parent The parent's container.
 * @returns The prefix.
 */
export function inferApp(parent: ParentContainer | undefined): string {
  const name = parent?.container.Name.replace(/^\//, "") ?? cwd().split("/").pop() ?? "app";
  const clean = name.toLowerCase().replace(/[^a-z0-9_.-]+/g, "-").replace(/^[^a-z0-9]+/, "")
    .slice(0, 40);
  return clean === "" ? "app" : clean;
}

/**
 * Where a parent in `container` listens and what its runners on `network`
 * dial: the container's address on that network, both. Not its name: the
 * engine's DNS serves a name given with `--name` but not a generated one
 * (`upbeat_bhabha`), and an address needs no DNS at all; the parent listens
 * on that address anyway.
 *
 * @param container The parent's container.
 * @param network The runners' network (its name).
 * @returns The address, or `undefined` when the container is not on that network.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ContainerInspect } from "../../docker/types.ts";
 * import { containerAddress } from "./parent_container.ts";
 *
 * const unnamed = {
 *   Name: "/upbeat_bhabha",
 *   NetworkSettings: { Networks: { jobs: { IPAddress: "172.18.0.2", Aliases: ["4f1c2a9e0b7d"] } } },
 * } as unknown as ContainerInspect;
 * assert.deepEqual(containerAddress(unnamed, "jobs"), {
 *   listenHost: "172.18.0.2",
 *   dialHost: "172.18.0.2",
 * });
 * assert.equal(containerAddress(unnamed, "other"), undefined);
 * ```
 */
export function containerAddress(
  container: ContainerInspect,
  network: string,
): ParentAddress | undefined {
  const address = container.NetworkSettings.Networks?.[network]?.IPAddress;
  return address ? { listenHost: address, dialHost: address } : undefined;
}

/**
 * Checks the runners' network and works out where the parent listens and
 * what runners dial: `parentHost` when given, else the parent container's
 * address on that network (see {@linkcode containerAddress}), else (a parent
 * on the host) the network's gateway, or a VM engine's host alias (see
 * `host_address.ts`).
 *
 * @param client The engine.
 * @param networkName The runners' network.
 * @param parent The parent's container.
 * @param options `parentHost`, `listenHost` and `startTimeout`.
 * @param localPodman Whether the engine is Podman on a local unix socket (its bridge comes up with the first container).
 * @returns The parent address.
 * @throws {Error} When the network does not exist, or a parent on the host cannot be reached from it.
 */
export async function resolveParentAddress(
  client: DockerClient,
  networkName: string,
  parent: ParentContainer | undefined,
  options: Pick<ResolvedDockerBackendOptions, "parentHost" | "listenHost" | "startTimeout">,
  localPodman = false,
): Promise<ParentAddress> {
  let network;
  try {
    network = await client.networkInspect(networkName, { timeout: options.startTimeout });
  } catch (err) {
    if (err instanceof DockerError && err.notFound) {
      throw new Error(
        `Cannot use network "${networkName}": it does not exist (create it with \`docker network create ${networkName}\`)`,
        { cause: err },
      );
    }
    throw err;
  }
  if (options.parentHost !== undefined) {
    return { listenHost: options.listenHost, dialHost: options.parentHost };
  }
  const inContainer = parent === undefined
    ? undefined
    : containerAddress(parent.container, network.Name);
  if (inContainer !== undefined) return inContainer;
  const gateway = network.IPAM.Config?.find((c) => c.Gateway && !c.Gateway.includes(":"))
    ?.Gateway;
  if (gateway === undefined) {
    throw new Error(
      `Cannot reach the parent from network "${network.Name}": it has no IPv4 gateway; set the "parentHost" option`,
    );
  }
  const gatewayIsLocal = await canListenOn(gateway);
  // Only an engine elsewhere needs its /info read (a VM engine's host alias).
  const info = gatewayIsLocal
    ? undefined
    : await client.info({ timeout: options.startTimeout }).catch(() => undefined);
  return hostParentAddress({ network: network.Name, gateway, gatewayIsLocal, info, localPodman });
}

/**
 * Whether this machine can listen on `address`: the test that it is one of
 * its own. (Interface lists are not: Node's leaves out a bridge with no
 * container attached yet.)
 */
async function canListenOn(address: string): Promise<boolean> {
  try {
    const listener = await listenTcp(address, 0);
    listener.close();
    return true;
  } catch {
    return false;
  }
}
