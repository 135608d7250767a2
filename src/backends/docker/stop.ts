/**
 * The end of a `DockerBackend` runner container: stopped (SIGTERM, then
 * SIGKILL after `stopTimeout`) and removed, or killed outright; every engine
 * call here has a deadline, so a stop ends in bounded time whatever the
 * engine does (answers never, answers with an error, drops the connection).
 *
 * @module
 */

import type { DockerClient } from "../../docker/client.ts";
import { DockerError } from "../../docker/errors.ts";
import type { DockerCallOptions } from "../../docker/types.ts";
import type { Logger } from "../../util/logger.ts";
import type { DockerHandle } from "./handle.ts";
import type { ResolvedDockerBackendOptions } from "./options.ts";

/**
 * Milliseconds the engine gets for a call it should answer at once (remove,
 * kill, inspect, list), and for a stop beyond its grace period.
 */
export const ENGINE_ANSWER_TIMEOUT = 5_000;

/**
 * Milliseconds the engine gets, once a runner's stop and removal are over
 * (or have failed), to report the container's exit; then the handle's
 * `exited` resolves with "container state unknown".
 */
export const EXIT_REPORT_TIMEOUT = 2_000;

/**
 * The most {@linkcode stopRunnerContainer} takes: the grace period (in whole
 * seconds, as the engine counts it), {@linkcode ENGINE_ANSWER_TIMEOUT} for
 * the stop and removal calls together, and {@linkcode EXIT_REPORT_TIMEOUT}.
 *
 * @param stopTimeout The backend's `stopTimeout`, in milliseconds.
 * @returns Milliseconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stopBound } from "./stop.ts";
 *
 * assert.equal(stopBound(1500), 2000 + 5000 + 2000);
 * ```
 */
export function stopBound(stopTimeout: number): number {
  return Math.ceil(stopTimeout / 1000) * 1000 + ENGINE_ANSWER_TIMEOUT + EXIT_REPORT_TIMEOUT;
}

/**
 * Removes a container, forced; one already gone or being removed counts as
 * removed. The call has a deadline ({@linkcode ENGINE_ANSWER_TIMEOUT} unless
 * `options.timeout` says otherwise).
 *
 * @param client The engine.
 * @param container The container id or name.
 * @param options Signal and timeout.
 * @throws {Error} When the engine refuses, does not answer in time or the connection drops.
 */
export async function removeContainer(
  client: DockerClient,
  container: string,
  options: DockerCallOptions = {},
): Promise<void> {
  try {
    await client.containerRemove(container, {
      force: true,
      timeout: options.timeout ?? ENGINE_ANSWER_TIMEOUT,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    // Not found: gone already (AutoRemove); conflict: its removal is already under way.
    if (!(err instanceof DockerError && (err.notFound || err.conflict))) throw err;
  }
}

/**
 * Stops a runner container and, unless `keepRunners`, removes it; resolves
 * once its exit is known, or once the engine had its time to report it.
 * Already stopped or removed counts as success; a stop that fails is logged
 * with its reason. Takes at most {@linkcode stopBound} of
 * `stopTimeout`: the stop call gets the grace period plus
 * {@linkcode ENGINE_ANSWER_TIMEOUT}, the removal what is left of that, and
 * the handle's `exited` settles within {@linkcode EXIT_REPORT_TIMEOUT} after.
 *
 * @param client The engine.
 * @param handle The runner.
 * @param options `stopTimeout` (milliseconds; the engine gets whole seconds, rounded up) and `keepRunners`.
 * @param log Where a failed stop is logged.
 * @throws {Error} When the container could not be removed (after its exit is known or given up on).
 */
export async function stopRunnerContainer(
  client: DockerClient,
  handle: DockerHandle,
  options: Pick<ResolvedDockerBackendOptions, "stopTimeout" | "keepRunners">,
  log: Logger,
): Promise<void> {
  const grace = Math.ceil(options.stopTimeout / 1000);
  const deadline = Date.now() + grace * 1000 + ENGINE_ANSWER_TIMEOUT;
  const short = handle.container.slice(0, 12);
  try {
    await client.containerStop(handle.container, { t: grace, timeout: deadline - Date.now() });
  } catch (err) {
    // Not found: removed already; 304: not running.
    if (!(err instanceof DockerError && (err.notFound || err.notModified))) {
      log.warn(`docker: cannot stop ${short}: ${(err as Error).message}`);
    }
  }
  let removal: Error | undefined;
  try {
    if (!options.keepRunners) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `the engine used up the ${grace * 1000 + ENGINE_ANSWER_TIMEOUT} ms of the stop`,
        );
      }
      await removeContainer(client, handle.container, { timeout: left });
    }
  } catch (err) {
    removal = new Error(
      `Cannot remove runner container ${short}: ${
        (err as Error).message
      } (remove it with \`docker rm -f ${short}\`)`,
      { cause: err },
    );
  } finally {
    // Ends the log follow and gives the exit wait EXIT_REPORT_TIMEOUT more.
    handle.stopLogs.abort();
  }
  await handle.exited;
  if (removal !== undefined) throw removal;
}

/**
 * Sends a signal to a runner container without waiting for the engine's
 * answer: the runner's exit is seen through its handle. The call is dropped
 * after {@linkcode ENGINE_ANSWER_TIMEOUT}.
 *
 * @param client The engine.
 * @param handle The runner.
 * @param signal The signal name.
 * @param log Where a failed delivery is logged.
 */
export function killRunnerContainer(
  client: DockerClient,
  handle: DockerHandle,
  signal: string,
  log: Logger,
): void {
  client.containerKill(handle.container, { killSignal: signal, timeout: ENGINE_ANSWER_TIMEOUT })
    .catch((err) => {
      log.debug(
        `docker: cannot send ${signal} to ${handle.container.slice(0, 12)}: ${
          (err as Error).message
        }`,
      );
    });
}
