/**
 * Where a parent that runs on the engine's host (not in a container) listens,
 * and what its runners dial. On a Linux host the runners' network gateway is
 * an address of this machine: listen and dial there. When it is not, the
 * engine runs elsewhere: in a VM on a laptop (Docker Desktop, OrbStack,
 * Colima, Rancher Desktop, a Podman machine), where runners reach the host
 * through the VM's host alias, which arrives on the host's loopback; or on
 * another machine, where only the user knows a reachable address. Podman on
 * this machine is the one more case: its gateway is not up until a container
 * joins the network, so the parent listens on every interface and accepts
 * only connections that arrive at the gateway.
 *
 * @module
 */

import type { SystemInfo } from "../../docker/types.ts";
import type { ParentAddress } from "../backend.ts";

/** An engine that runs in a VM on this machine, and how its containers reach the host. */
export interface VmEngine {
  /** What it is, for messages (`Docker Desktop`, `OrbStack`, …). */
  engine: string;
  /** The host name runners dial to reach this machine (`host.docker.internal`, …). */
  alias: string;
}

/**
 * Recognises the engines that run in a VM on this machine from their `/info`.
 *
 * @param info The engine's `Name`, `OperatingSystem` and `KernelVersion`.
 * @returns The VM engine, or `undefined` for any other.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vmEngineOf } from "./host_address.ts";
 *
 * const desktop = vmEngineOf({
 *   Name: "docker-desktop",
 *   OperatingSystem: "Docker Desktop",
 *   KernelVersion: "6.10.14-linuxkit",
 * });
 * assert.equal(desktop?.alias, "host.docker.internal");
 * ```
 */
export function vmEngineOf(
  info: Pick<SystemInfo, "Name" | "OperatingSystem" | "KernelVersion">,
): VmEngine | undefined {
  const name = (info.Name ?? "").toLowerCase();
  const os = (info.OperatingSystem ?? "").toLowerCase();
  const kernel = (info.KernelVersion ?? "").toLowerCase();
  if (os.includes("docker desktop") || kernel.includes("linuxkit")) {
    return { engine: "Docker Desktop", alias: "host.docker.internal" };
  }
  if (os.includes("orbstack") || kernel.includes("orbstack") || name === "orbstack") {
    return { engine: "OrbStack", alias: "host.docker.internal" };
  }
  if (os.includes("rancher desktop") || name.includes("rancher-desktop")) {
    return { engine: "Rancher Desktop", alias: "host.lima.internal" };
  }
  if (name === "colima" || name.startsWith("colima-") || name.startsWith("lima-")) {
    return { engine: "Colima (Lima)", alias: "host.lima.internal" };
  }
  if (name.includes("podman-machine") || os.includes("fedora coreos")) {
    return { engine: "Podman machine", alias: "host.containers.internal" };
  }
  return undefined;
}

/** What {@linkcode hostParentAddress} decides from. */
export interface HostParentFacts {
  /** The runners' network. */
  network: string;
  /** Its IPv4 gateway. */
  gateway: string;
  /** Whether the gateway is an address of this machine (the parent could bind it). */
  gatewayIsLocal: boolean;
  /** The engine's `/info`, when it could be read. */
  info:
    | Pick<SystemInfo, "Name" | "OperatingSystem" | "KernelVersion" | "SecurityOptions">
    | undefined;
  /**
   * Whether the engine is Podman reached over a local unix socket: it brings a
   * network's bridge (and so its gateway address) up only when the first
   * container joins, and takes it down with the last.
   */
  localPodman?: boolean;
}

/**
 * Decides where a parent on the host listens and what runners dial.
 *
 * @param facts The network, its gateway, this machine's addresses and the engine's info.
 * @returns The parent address.
 * @throws {Error} When the gateway is not local and the engine is neither a
 * known VM engine nor Podman on this machine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostParentAddress } from "./host_address.ts";
 *
 * const local = hostParentAddress({
 *   network: "jobs",
 *   gateway: "172.18.0.1",
 *   gatewayIsLocal: true,
 *   info: undefined,
 * });
 * assert.deepEqual(local, { listenHost: "172.18.0.1", dialHost: "172.18.0.1" });
 * ```
 */
export function hostParentAddress(facts: HostParentFacts): ParentAddress {
  const { gateway } = facts;
  if (facts.gatewayIsLocal) {
    return { listenHost: gateway, dialHost: gateway };
  }
  const vm = facts.info === undefined ? undefined : vmEngineOf(facts.info);
  if (vm !== undefined) {
    // The alias arrives on the host's loopback: never listen on every interface.
    return { listenHost: "127.0.0.1", dialHost: vm.alias };
  }
  if (facts.localPodman) {
    if (facts.info?.SecurityOptions?.some((o) => /(^|,)name=rootless(,|$)/.test(o))) {
      // Rootless: the network lives in podman's own network namespace, out of this process's reach.
      throw new Error(
        `Cannot reach the parent from network "${facts.network}": Podman runs rootless, so its networks live in a network namespace of its own that a parent on the host cannot listen in; run the parent in a container on "${facts.network}" with the podman socket mounted (podman run --network ${facts.network} -v $XDG_RUNTIME_DIR/podman/podman.sock:/var/run/docker.sock …), or set the "parentHost" option to an address of this machine that runners reach (such as host.containers.internal) and "listenHost" to the local address those connections arrive on`,
      );
    }
    // The gateway appears with the first runner: listen everywhere, accept only there.
    return { listenHost: "0.0.0.0", dialHost: gateway, acceptOn: gateway };
  }
  const engine = facts.info === undefined
    ? "the engine"
    : `the engine ("${facts.info.Name}", ${facts.info.OperatingSystem})`;
  throw new Error(
    `Cannot reach the parent from network "${facts.network}": its gateway ${gateway} is not an address of this machine, so ${engine} runs in a VM or on another host, or has not brought the network's bridge up yet; set the "parentHost" option to an address of this machine that runners on "${facts.network}" can reach (and "listenHost" to the local address those connections arrive on)`,
  );
}
