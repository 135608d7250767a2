/**
 * Where a parent on the host listens and what runners dial, decided from an
 * engine's `/info` and its network's inspect. The dockerd answers are
 * recorded from the real engine (tests/fixtures/engines/); the VM engines
 * (which cannot run here) are that answer with the `Name`, `OperatingSystem`
 * and `KernelVersion` those engines report.
 */

import assert from "node:assert/strict";
import { hostParentAddress, vmEngineOf } from "../../src/backends/docker/host_address.ts";
import type { NetworkInspect, SystemInfo } from "../../src/docker/types.ts";

const fixture = (name: string) =>
  JSON.parse(Deno.readTextFileSync(new URL(`../fixtures/engines/${name}`, import.meta.url)));
const dockerd: SystemInfo = fixture("info_linux_dockerd_20.10.json");
const network: NetworkInspect = fixture("network_internal_dockerd_20.10.json");
const gateway = network.IPAM.Config![0]!.Gateway!;

const vm = (Name: string, OperatingSystem: string, KernelVersion: string): SystemInfo => ({
  ...dockerd,
  Name,
  OperatingSystem,
  KernelVersion,
});

Deno.test("hostParentAddress() listens and dials on the gateway when this machine can bind it", () => {
  assert.deepEqual(
    hostParentAddress({
      network: network.Name,
      gateway,
      gatewayIsLocal: true,
      info: dockerd,
    }),
    { listenHost: gateway, dialHost: gateway },
  );
});

Deno.test("hostParentAddress() dials a VM engine's host alias and listens on loopback", () => {
  const cases: [SystemInfo, string, string][] = [
    [
      vm("docker-desktop", "Docker Desktop", "6.10.14-linuxkit"),
      "Docker Desktop",
      "host.docker.internal",
    ],
    [
      vm("orbstack", "OrbStack", "6.12.5-orbstack-00298-g2a4b6d4d6a4b"),
      "OrbStack",
      "host.docker.internal",
    ],
    [vm("colima", "Ubuntu 24.04.1 LTS", "6.8.0-50-generic"), "Colima (Lima)", "host.lima.internal"],
    [
      vm("lima-rancher-desktop", "Rancher Desktop WSL Distribution", "6.6.36"),
      "Rancher Desktop",
      "host.lima.internal",
    ],
    [
      vm("localhost.localdomain", "fedora coreos 41", "6.11.3-300.fc41.x86_64"),
      "Podman machine",
      "host.containers.internal",
    ],
  ];
  for (const [info, engine, alias] of cases) {
    assert.equal(vmEngineOf(info)?.engine, engine);
    assert.deepEqual(
      hostParentAddress({ network: network.Name, gateway, gatewayIsLocal: false, info }),
      { listenHost: "127.0.0.1", dialHost: alias },
    );
  }
  assert.equal(vmEngineOf(dockerd), undefined, "a plain Linux dockerd is no VM engine");
});

Deno.test("hostParentAddress() tells to set parentHost when the gateway is elsewhere and no alias is known", () => {
  assert.throws(
    () =>
      hostParentAddress({
        network: network.Name,
        gateway,
        gatewayIsLocal: false,
        info: dockerd,
      }),
    (e: Error) =>
      e.message.includes(`its gateway ${gateway} is not an address of this machine`) &&
      e.message.includes(`"${dockerd.Name}", ${dockerd.OperatingSystem}`) &&
      e.message.includes('set the "parentHost" option'),
  );
});
