/**
 * Shared facts for tests that need Podman's Docker-compatible API service.
 *
 * `.ci/run` starts `podman system service` as root on a socket of its own and
 * sets `FLAME_TEST_PODMAN_SOCKET` and `FLAME_REQUIRE_PODMAN=1`: there a podman
 * test runs and fails without the engine. Elsewhere it is ignored when no
 * podman answers (`/run/podman/podman.sock`, the rootful default, unless
 * `FLAME_TEST_PODMAN_SOCKET` says otherwise).
 *
 * The `podman` CLI is used in its remote mode against that socket, so the
 * tests see exactly what the API service sees.
 */

import { engineAnswers, TEST_IMAGE, TEST_LABEL } from "./docker.ts";

/** Set by `.ci/run`: podman tests must run. */
export const PODMAN_REQUIRED: boolean = Deno.env.get("FLAME_REQUIRE_PODMAN") === "1";

/** The podman API socket the tests talk to. */
export const PODMAN_SOCKET: string = Deno.env.get("FLAME_TEST_PODMAN_SOCKET") ??
  "/run/podman/podman.sock";

/** Whether podman answered `/_ping` when the test module loaded. */
export const podmanAvailable: boolean = await engineAnswers(PODMAN_SOCKET);

/** Pass as `ignore` to `Deno.test`: true only when podman is absent and not required. */
export const ignoreWithoutPodman: boolean = !podmanAvailable && !PODMAN_REQUIRED;

/** Runs `podman --remote` against the test socket; returns trimmed stdout, throws with stderr on failure. */
export async function podman(...args: string[]): Promise<string> {
  const out = await new Deno.Command("podman", {
    args: ["--remote", "--url", `unix://${PODMAN_SOCKET}`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(
      `podman ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return text;
}

let imageReady: Promise<void> | undefined;

/**
 * Makes the test runner image (built on the Docker engine by `ensureTestImage`)
 * present in podman: `docker save | podman load` when missing, once per
 * module. Older `src-` test images in podman that no container uses go.
 */
export function ensurePodmanImage(): Promise<void> {
  imageReady ??= (async () => {
    const present = await podman("image", "exists", TEST_IMAGE).then(() => true, () => false);
    if (!present) {
      const out = await new Deno.Command("bash", {
        args: [
          "-o",
          "pipefail",
          "-c",
          `docker save "$1" | podman --remote --url "unix://$2" load -q`,
          "_",
          TEST_IMAGE,
          PODMAN_SOCKET,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new Error(
          `Cannot load ${TEST_IMAGE} into podman: ${new TextDecoder().decode(out.stderr)}`,
        );
      }
    }
    const tags = await podman("images", "--format", "{{.Repository}}:{{.Tag}}");
    const current = TEST_IMAGE.split(":").pop();
    for (const tag of tags.split("\n")) {
      if (/flame-docker-runner:src-/.test(tag) && !tag.endsWith(`:${current}`)) {
        await podman("image", "rm", tag).catch(() => {});
      }
    }
  })();
  return imageReady;
}

/**
 * Creates an internal, labelled podman network shared by a test file; it is
 * also removed (with what is attached) when the test process exits.
 */
export async function createPodmanNetwork(name: string): Promise<void> {
  await podman("network", "create", "--internal", "--label", TEST_LABEL, name);
  globalThis.addEventListener("unload", () => {
    new Deno.Command("podman", {
      args: ["--remote", "--url", `unix://${PODMAN_SOCKET}`, "network", "rm", "-f", name],
      stdout: "null",
      stderr: "null",
    }).outputSync();
  });
}

/** Runner containers of a pool on podman (by the project and pool labels), in every state. */
export async function podmanContainersOfPool(pool: string): Promise<string[]> {
  const out = await podman(
    "ps",
    "-a",
    "-q",
    "--filter",
    "label=dev.flame-docker=runner",
    "--filter",
    `label=dev.flame-docker.pool=${pool}`,
  );
  return out === "" ? [] : out.split("\n");
}

/** Every container on podman that a test of ours made (runners and parent containers), in every state. */
export async function podmanTestContainers(): Promise<string[]> {
  const runners = await podman("ps", "-a", "-q", "--filter", "label=dev.flame-docker=runner");
  const parents = await podman("ps", "-a", "-q", "--filter", `label=${TEST_LABEL}`);
  return [...new Set([runners, parents].join("\n").split("\n").filter((l) => l !== ""))];
}
