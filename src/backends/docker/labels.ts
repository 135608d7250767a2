/**
 * The labels on every runner container `DockerBackend` creates.
 *
 * @module
 */

/**
 * Label on every container this project creates (value `"runner"` on runners).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LABEL_PROJECT } from "@flame/docker";
 * import type { ContainerListOptions } from "@flame/docker/docker";
 *
 * const everyRunner: ContainerListOptions = {
 *   all: true,
 *   filters: { label: [`${LABEL_PROJECT}=runner`] },
 * };
 * assert.deepEqual(everyRunner.filters?.label, ["dev.flame-docker=runner"]);
 * ```
 */
export const LABEL_PROJECT = "dev.flame-docker";
/**
 * Label: the pool's name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LABEL_POOL } from "@flame/docker";
 * import type { ContainerSummary } from "@flame/docker/docker";
 *
 * function poolOf(container: ContainerSummary): string | undefined {
 *   return container.Labels[LABEL_POOL];
 * }
 * assert.equal(typeof poolOf, "function");
 * assert.equal(LABEL_POOL, "dev.flame-docker.pool");
 * ```
 */
export const LABEL_POOL = "dev.flame-docker.pool";
/**
 * Label: the parent instance that created the container ({@linkcode DockerBackend.instanceId}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DockerBackend, LABEL_PARENT } from "@flame/docker";
 *
 * const backend = new DockerBackend({ image: "my-app:latest", network: "my_net" });
 * const mine = `${LABEL_PARENT}=${backend.instanceId}`;
 * assert.ok(mine.startsWith("dev.flame-docker.parent="));
 * await backend.close();
 * ```
 */
export const LABEL_PARENT = "dev.flame-docker.parent";
/**
 * Label: the parent's container id when the parent runs in a container.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LABEL_PARENT_CONTAINER } from "@flame/docker";
 *
 * const labels: Record<string, string> = { [LABEL_PARENT_CONTAINER]: "4f1c2a9e0b7d" };
 * assert.equal(labels["dev.flame-docker.parent-container"], "4f1c2a9e0b7d");
 * ```
 */
export const LABEL_PARENT_CONTAINER = "dev.flame-docker.parent-container";
/**
 * Label: `<hostname>:<pid>` of the parent process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LABEL_PARENT_PROCESS } from "@flame/docker";
 *
 * const labels = { [LABEL_PARENT_PROCESS]: "build-host:4242" };
 * const [host, pid] = labels[LABEL_PARENT_PROCESS].split(":");
 * assert.equal(host, "build-host");
 * assert.equal(Number(pid), 4242);
 * ```
 */
export const LABEL_PARENT_PROCESS = "dev.flame-docker.parent-process";
/**
 * Label: the runner's id (as in the pool's logs, events and `flame.runner.id`),
 * so `docker ps` and `docker logs` can be matched to what the pool reports.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LABEL_RUNNER } from "@flame/docker";
 * import type { ContainerListOptions } from "@flame/docker/docker";
 *
 * const one: ContainerListOptions = { filters: { label: [`${LABEL_RUNNER}=thumbs-1a2b3c4d`] } };
 * assert.deepEqual(one.filters?.label, ["dev.flame-docker.runner=thumbs-1a2b3c4d"]);
 * ```
 */
export const LABEL_RUNNER = "dev.flame-docker.runner";
