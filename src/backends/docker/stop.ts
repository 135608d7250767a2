/**
 * The end of a `DockerBackend` runner container: stopped (SIGTERM, then
 * SIGKILL after `stopTimeout`) and removed, or killed outright.
 *
 * @module
 */

import type { DockerClient } from "../../docker/client.ts";
import { DockerError } from "../../docker/errors.ts";
import type { Logger } from "../../util/logger.ts";
import type { DockerHandle } from "./handle.ts";
import type { ResolvedDockerBackendOptions } from "./options.ts";

/**
 * Removes a container, forced; one already gone or being removed counts as removed.
 *
 * @param client The engine.
 * @param container The container id.
 */
export async function removeContainer(client: DockerClient, container: string): Promise<void> {
  try {
    await client.containerRemove(container, { force: true });
  } catch (err) {
    // 404: gone already (AutoRemove); 409: its removal is already under way.
    if (!(err instanceof DockerError && (err.status === 404 || err.status === 409))) throw err;
  }
}

/**
 * Stops a runner container and, unless `keepRunners`, removes it; resolves
 * once its exit is known. Already stopped or removed counts as success.
 *
 * @param client The engine.
 * @param handle The runner.
 * @param options `stopTimeout` (milliseconds; the engine gets whole seconds, rounded up) and `keepRunners`.
 * @param log Where a failed stop is logged.
 */
export async function stopRunnerContainer(
  client: DockerClient,
  handle: DockerHandle,
  options: Pick<ResolvedDockerBackendOptions, "stopTimeout" | "keepRunners">,
  log: Logger,
): Promise<void> {
  try {
    await client.containerStop(handle.container, { t: Math.ceil(options.stopTimeout / 1000) });
  } catch (err) {
    if (!(err instanceof DockerError && (err.status === 404 || err.status === 304))) {
      log.warn(
        `docker: cannot stop ${handle.container.slice(0, 12)}: ${(err as Error).message}`,
      );
    }
  }
  try {
    if (!options.keepRunners) await removeContainer(client, handle.container);
  } finally {
    handle.stopLogs.abort();
  }
  await handle.exited;
}

/**
 * Sends a signal to a runner container without waiting for the engine's
 * answer: the runner's exit is seen through its handle.
 *
 * @param client The engine.
 * @param handle The runner.
 * @param signal The signal name.
 */
export function killRunnerContainer(
  client: DockerClient,
  handle: DockerHandle,
  signal: string,
): void {
  client.containerKill(handle.container, { killSignal: signal }).catch(() => {});
}
