/**
 * The first step of a `DockerBackend` boot: the runner image is present, or
 * pulled (unless `pull` is `"never"`), reporting the pull's progress.
 *
 * @module
 */

import type { DockerClient } from "../../docker/client.ts";
import { DockerError } from "../../docker/errors.ts";
import type { Logger } from "../../util/logger.ts";
import type { BootSpec } from "../backend.ts";
import type { ResolvedDockerBackendOptions } from "./options.ts";

/** What {@linkcode pullIfMissing} needs besides the client and the image. */
export interface PullIfMissingContext {
  /** The backend's options (`pull`, `registryAuth`, `startTimeout`, `onPullProgress`). */
  options: Pick<
    ResolvedDockerBackendOptions,
    "pull" | "registryAuth" | "startTimeout" | "onPullProgress"
  >;
  /** Aborts the inspect and the pull. */
  signal: AbortSignal;
  /** Receives a `flame.image.pull.progress` event for each progress line. */
  onEvent: BootSpec["onEvent"];
  /** Where the pull's start is logged. */
  log: Logger;
}

/**
 * Pulls `image` unless the engine has it.
 *
 * @param client The engine.
 * @param image The runner image.
 * @param context Options, signal, event sink and logger.
 * @throws {Error} When the image is missing and `pull` is `"never"`, or the pull fails.
 */
export async function pullIfMissing(
  client: DockerClient,
  image: string,
  context: PullIfMissingContext,
): Promise<void> {
  const { options, signal, onEvent } = context;
  const timeout = options.startTimeout;
  try {
    await client.imageInspect(image, { timeout, signal });
    return;
  } catch (err) {
    if (!(err instanceof DockerError && err.notFound)) throw err;
  }
  if (options.pull === "never") {
    throw new Error(`Cannot boot a runner: image "${image}" is missing and "pull" is "never"`);
  }
  context.log.info(`docker: pulling ${image}`);
  const pull = client.imagePull(image, {
    timeout,
    signal,
    ...(options.registryAuth ? { auth: options.registryAuth } : {}),
  });
  for await (const p of pull) {
    const event = {
      image,
      status: p.status ?? "",
      ...(p.id === undefined ? {} : { id: p.id }),
      ...(p.progress === undefined ? {} : { progress: p.progress }),
    };
    options.onPullProgress?.(event);
    onEvent?.("flame.image.pull.progress", {
      "flame.backend": "docker",
      "flame.image": image,
      "flame.status": event.status,
      ...(event.id === undefined ? {} : { "flame.layer": event.id }),
      ...(event.progress === undefined ? {} : { "flame.progress": event.progress }),
    });
  }
}
