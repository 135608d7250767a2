/**
 * What `DockerBackend` learns from the parent's own container when the parent
 * runs in one (Docker-out-of-Docker): the image and network runners default
 * to, the container-name prefix, and the address runners dial.
 *
 * @module
 */

import type { DockerClient } from "../../docker/client.ts";
import { DockerError } from "../../docker/errors.ts";
import type { ContainerInspect } from "../../docker/types.ts";
import { cwd, hostname, pathExists } from "../../runtime.ts";
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

/**
 * Finds the container the parent runs in: the one named by this host name,
 * when `/.dockerenv` says this is a container.
 *
 * @param client The engine.
 * @param timeout Milliseconds for the inspect.
 * @returns The parent's container, or `undefined` when the parent is not in one the engine knows.
 */
export async function detectParentContainer(
  client: DockerClient,
  timeout: number,
): Promise<ParentContainer | undefined> {
  if (!await pathExists("/.dockerenv")) return undefined;
  let container: ContainerInspect;
  try {
    container = await client.containerInspect(hostname(), { timeout });
  } catch (err) {
    if (err instanceof DockerError && err.status === 404) return undefined;
    throw err;
  }
  const networks = Object.keys(container.NetworkSettings.Networks ?? {})
    .filter((n) => !["bridge", "host", "none"].includes(n));
  return { container, network: networks.length === 1 ? networks[0] : undefined };
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
 * Checks the runners' network and works out where the parent listens and
 * what runners dial: `parentHost` when given, else the parent container's
 * name on that network, else (a parent on the host) the network's gateway,
 * or a VM engine's host alias (see `host_address.ts`).
 *
 * @param client The engine.
 * @param networkName The runners' network.
 * @param parent The parent's container.
 * @param options `parentHost`, `listenHost` and `startTimeout`.
 * @returns The parent address.
 * @throws {Error} When the network does not exist, or a parent on the host cannot be reached from it.
 */
export async function resolveParentAddress(
  client: DockerClient,
  networkName: string,
  parent: ParentContainer | undefined,
  options: Pick<ResolvedDockerBackendOptions, "parentHost" | "listenHost" | "startTimeout">,
): Promise<ParentAddress> {
  let network;
  try {
    network = await client.networkInspect(networkName, { timeout: options.startTimeout });
  } catch (err) {
    if (err instanceof DockerError && err.status === 404) {
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
  const parentOnNet = parent?.container.NetworkSettings.Networks?.[network.Name];
  if (parent !== undefined && parentOnNet?.IPAddress) {
    // Parent in a container on the runners' network: runners resolve its name.
    return {
      listenHost: parentOnNet.IPAddress,
      dialHost: parent.container.Name.replace(/^\//, ""),
    };
  }
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
  return hostParentAddress({ network: network.Name, gateway, gatewayIsLocal, info });
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
