/**
 * What differs on Podman, decided from its answers as recorded from Debian's
 * podman 4.3.1 (the same engine `tests/integration/podman_test.ts` drives):
 * its 500s carry a `cause` that says what Docker says with 404 or 409; the
 * parent's own container is found from the files podman gives it; a parent
 * on the host of a local podman listens on every interface and accepts only
 * at the gateway.
 */

import assert from "node:assert/strict";
import { DockerError } from "../../src/docker/errors.ts";
import { containerCandidates } from "../../src/backends/docker/parent_container.ts";
import { hostParentAddress } from "../../src/backends/docker/host_address.ts";

const podmanError = (status: number, cause: string, message: string) =>
  new DockerError(`Cannot do it: ${message}`, {
    status,
    engineMessage: message,
    engineCause: cause,
    method: "POST",
    path: "/v1.41/containers/x/kill",
  });

Deno.test("DockerError reads podman's causes as Docker's 404 and 409, and nothing else", () => {
  const name = podmanError(
    500,
    "that name is already in use",
    'creating container storage: the container name "pmt1" is already in use by bdf7ac88e44b',
  );
  assert.ok(name.conflict && !name.notFound);
  const state = podmanError(500, "container state improper", "can only kill running containers");
  assert.ok(state.conflict && !state.notFound);
  const gone = podmanError(500, "no such container", 'no container with name or ID "x" found');
  assert.ok(gone.notFound && !gone.conflict);
  assert.equal(gone.engineCause, "no such container");
  const oci = podmanError(
    500,
    "OCI runtime attempted to invoke a command that was not found",
    'exec: "/nonexistent": stat /nonexistent: no such file or directory',
  );
  assert.ok(!oci.notFound && !oci.conflict, "a start failure is neither");
  // Docker sends no cause: status alone decides, as before.
  const docker = new DockerError("Cannot remove: conflict", {
    status: 409,
    engineMessage: "removal in progress",
    method: "DELETE",
    path: "/v1.41/containers/x",
  });
  assert.ok(docker.conflict && docker.engineCause === undefined);
});

const ID = "10987d4048c7e4190efc8b642dc882667fc04f877c79d1afea70771207989068";
const OTHER = [...ID].reverse().join("");

Deno.test("containerCandidates() finds the parent's container on podman, Docker and neither", () => {
  // Podman, unprivileged: .containerenv is empty; the id is in mountinfo and cgroup.
  const podman = containerCandidates({
    dockerenv: false,
    containerenv: "",
    mountinfo: [
      `92 86 254:0 /run/containers/storage/overlay-containers/${ID}/userdata/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda rw`,
      `96 86 254:0 /run/containers/storage/overlay-containers/${ID}/userdata/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw`,
    ].join("\n"),
    cgroup: `0::/libpod_parent/libpod-${ID}`,
    hostname: ID.slice(0, 12),
  });
  assert.deepEqual(podman, [ID, ID.slice(0, 12)]);
  // Podman, privileged: .containerenv names it first.
  assert.deepEqual(
    containerCandidates({
      dockerenv: false,
      containerenv: `engine="podman-4.3.1"\nname="web"\nid="${OTHER}"\n`,
      mountinfo: undefined,
      cgroup: undefined,
      hostname: "web",
    }),
    [OTHER, "web"],
  );
  // Docker, cgroup v2 namespaced (cgroup says nothing), a --hostname of its own.
  assert.deepEqual(
    containerCandidates({
      dockerenv: true,
      containerenv: undefined,
      mountinfo:
        `655 636 254:0 /var/lib/docker/containers/${OTHER}/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw`,
      cgroup: "0::/",
      hostname: "api",
    }),
    [OTHER, "api"],
  );
  // Docker with cgroup v1 and a systemd driver.
  assert.deepEqual(
    containerCandidates({
      dockerenv: false,
      containerenv: undefined,
      mountinfo: "",
      cgroup: `12:memory:/system.slice/docker-${OTHER}.scope`,
      hostname: "x",
    }),
    [OTHER, "x"],
  );
  // The host: a bind mount of someone else's file onto another path is no clue.
  assert.deepEqual(
    containerCandidates({
      dockerenv: false,
      containerenv: undefined,
      mountinfo:
        `700 29 254:0 /var/lib/docker/containers/${OTHER}/hostname /tmp/copy rw - ext4 /dev/vda rw`,
      cgroup: "0::/user.slice/user-0.slice/session-1.scope",
      hostname: "laptop",
    }),
    [],
  );
});

Deno.test("hostParentAddress() on a local podman: every interface, accepted only at the gateway", () => {
  assert.deepEqual(
    hostParentAddress({
      network: "jobs",
      gateway: "10.89.0.1",
      gatewayIsLocal: false,
      info: { Name: "build-host", OperatingSystem: "debian", KernelVersion: "6.1.0" },
      localPodman: true,
    }),
    { listenHost: "0.0.0.0", dialHost: "10.89.0.1", acceptOn: "10.89.0.1" },
  );
  // Once the bridge is up the gateway is local: listened on directly, as on Docker.
  assert.deepEqual(
    hostParentAddress({
      network: "jobs",
      gateway: "10.89.0.1",
      gatewayIsLocal: true,
      info: undefined,
      localPodman: true,
    }),
    { listenHost: "10.89.0.1", dialHost: "10.89.0.1" },
  );
});

Deno.test("hostParentAddress() on a rootless podman says to run the parent in a container", () => {
  assert.throws(
    () =>
      hostParentAddress({
        network: "jobs",
        gateway: "10.89.0.1",
        gatewayIsLocal: false,
        info: {
          Name: "laptop",
          OperatingSystem: "fedora",
          KernelVersion: "6.11.4",
          SecurityOptions: ["name=seccomp,profile=default", "name=rootless"],
        },
        localPodman: true,
      }),
    /Podman runs rootless.*run the parent in a container on "jobs" with the podman socket mounted/,
  );
});
