/**
 * The boot of a `DockerBackend` runner container: its image ready, then
 * created (name, env, labels, host config), watched for its exit and started;
 * its last log lines kept to explain an exit.
 *
 * @module
 */

import type { DockerClient } from "../../docker/client.ts";
import { DockerError } from "../../docker/errors.ts";
import type { HostConfig } from "../../docker/types.ts";
import { hostname, pid } from "../../runtime.ts";
import type { Logger } from "../../util/logger.ts";
import type { BootSpec } from "../backend.ts";
import type { DockerHandle } from "./handle.ts";
import {
  LABEL_PARENT,
  LABEL_PARENT_CONTAINER,
  LABEL_PARENT_PROCESS,
  LABEL_POOL,
  LABEL_PROJECT,
} from "./labels.ts";
import type { ResolvedDockerBackendOptions } from "./options.ts";
import type { ParentContainer } from "./parent_container.ts";
import { stopRunnerContainer } from "./stop.ts";

/**
 * Environment every runner gets unless `env` overrides it (`FLAME_PARENT` excepted).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_RUNNER_ENV } from "@flame/docker";
 *
 * // Code shipped to a runner container can tell that it runs on one.
 * function onRunner(): boolean {
 *   return Deno.env.get("FLAME_RUNNER") === DEFAULT_RUNNER_ENV.FLAME_RUNNER;
 * }
 * assert.equal(typeof onRunner(), "boolean");
 * assert.equal(DEFAULT_RUNNER_ENV.NO_COLOR, "1");
 * ```
 */
export const DEFAULT_RUNNER_ENV: Readonly<Record<string, string>> = {
  FLAME_RUNNER: "1",
  NO_COLOR: "1",
};

/** Where and as whom runner containers are created. */
export interface BootTarget {
  /** The runner image. */
  image: string;
  /** The runners' network. */
  network: string;
  /** The container-name prefix. */
  app: string;
  /** The parent's own container, if it runs in one. */
  parent: ParentContainer | undefined;
  /** The parent instance id (the `LABEL_PARENT` value). */
  instanceId: string;
}

/** What {@linkcode bootRunnerContainer} needs besides the client and the spec. */
export interface BootContext {
  /** The backend's options. */
  options: ResolvedDockerBackendOptions;
  /** Where and as whom. */
  target: BootTarget;
  /** Makes sure the image is present (pulling it at most once for concurrent boots). */
  ensureImage: (signal: AbortSignal, onEvent: BootSpec["onEvent"]) => Promise<void>;
  /** The running runners: the handle is in it from its creation until its exit. */
  running: Set<DockerHandle>;
  /** Where the backend logs. */
  log: Logger;
}

/**
 * `bytes` random bytes as hex.
 *
 * @param bytes How many bytes.
 * @returns Twice as many hex digits.
 */
export function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

const LOG_TAIL_LINES = 30;
/** Milliseconds between attempts to wait on a runner again after the engine connection dropped. */
const WAIT_RETRY_MIN = 100;
const WAIT_RETRY_MAX = 2000;

/** Resolves `true` after `ms`, or `false` as soon as `signal` aborts (the timer is cleared). */
function abortableDelay(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Boots one runner container: image, create, wait, start; reports the
 * `image`, `created` and `started` phases. A container that fails to start is
 * stopped and removed.
 *
 * @param client The engine.
 * @param spec The boot spec.
 * @param context Options, target, image step, running set and logger.
 * @returns The handle; `exited` resolves when the container stops, with its last log lines.
 * @throws {Error} When a step fails.
 */
export async function bootRunnerContainer(
  client: DockerClient,
  spec: BootSpec,
  context: BootContext,
): Promise<DockerHandle> {
  const { options, target } = context;
  const timeout = options.startTimeout;
  const signal = spec.signal;
  const phase = (name: string, container?: string) =>
    spec.onEvent?.("flame.runner.boot.phase", {
      "flame.phase": name,
      ...(container === undefined ? {} : { "container.name": container }),
    });
  await context.ensureImage(signal, spec.onEvent);
  phase("image");
  const name = `${target.app}-flame-${randomHex(10)}`;
  const env: Record<string, string> = {
    ...DEFAULT_RUNNER_ENV,
    ...options.env,
    [options.runnerHostnameEnv]: name,
    FLAME_PARENT: spec.parentEnv,
  };
  const labels: Record<string, string> = {
    ...options.labels,
    [LABEL_PROJECT]: "runner",
    [LABEL_POOL]: spec.pool,
    [LABEL_PARENT]: target.instanceId,
    [LABEL_PARENT_PROCESS]: `${hostname()}:${pid()}`,
    ...(target.parent ? { [LABEL_PARENT_CONTAINER]: target.parent.container.Id } : {}),
  };
  const hostConfig: HostConfig = {
    ...options.hostConfig,
    AutoRemove: !options.keepRunners,
    NetworkMode: target.network,
    ...(options.mounts
      ? { Mounts: [...(options.hostConfig?.Mounts ?? []), ...options.mounts] }
      : {}),
  };
  const created = await client.containerCreate({
    Image: target.image,
    Hostname: name,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: labels,
    ...(options.cmd ? { Cmd: options.cmd } : {}),
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: { [target.network]: {} } },
  }, { name, timeout, signal });
  phase("created", name);
  const handle: DockerHandle = {
    id: spec.id,
    container: created.Id,
    logTail: [],
    stopLogs: new AbortController(),
    exited: Promise.resolve(""),
  };
  // Wait for the exit before starting, so a runner that dies at once is seen.
  const waited = client.containerWait(created.Id, { condition: "next-exit" });
  handle.exited = describeExit(client, handle, waited, context.log);
  context.running.add(handle);
  handle.exited.then(() => context.running.delete(handle));
  try {
    await client.containerStart(created.Id, { timeout, signal });
  } catch (err) {
    await stopRunnerContainer(client, handle, options, context.log);
    throw new Error(`Cannot start runner container "${name}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  phase("started", name);
  followLogs(client, handle);
  context.log.info(`docker: started ${name} for runner ${spec.id}`);
  return handle;
}

/** Keeps the container's last log lines in `handle.logTail` until it exits or is stopped. */
async function followLogs(client: DockerClient, handle: DockerHandle): Promise<void> {
  try {
    for await (
      const chunk of client.containerLogs(handle.container, {
        follow: true,
        stdout: true,
        stderr: true,
        tty: false, // Runners are created without a TTY: skip the inspect that would ask.
        signal: handle.stopLogs.signal,
      })
    ) {
      for (const line of new TextDecoder().decode(chunk.data).split("\n")) {
        if (line === "") continue;
        handle.logTail.push(line);
        if (handle.logTail.length > LOG_TAIL_LINES) handle.logTail.shift();
      }
    }
  } catch {
    // The container is gone or the follow was stopped: the tail is what we have.
  }
}

/** Waits for the container's exit (again, if the engine connection drops) and describes it. */
async function describeExit(
  client: DockerClient,
  handle: DockerHandle,
  waited: Promise<{ StatusCode: number }>,
  log: Logger,
): Promise<string> {
  let how: string;
  for (let delay = WAIT_RETRY_MIN;; delay = Math.min(delay * 2, WAIT_RETRY_MAX)) {
    try {
      const result = await waited;
      how = `container exited with code ${result.StatusCode}`;
      break;
    } catch (err) {
      if (err instanceof DockerError) {
        how = err.status === 404
          ? "container removed"
          : `container wait failed: ${(err as Error).message}`;
        break;
      }
      // The engine connection dropped (engine or socket proxy restarting): that says
      // nothing about the runner, whose link heartbeats tell whether it lives. Wait
      // again once the engine answers, unless the runner is being stopped.
      if (
        handle.stopLogs.signal.aborted || !await abortableDelay(delay, handle.stopLogs.signal)
      ) {
        how = `container wait failed: ${(err as Error).message}`;
        break;
      }
      log.debug(`docker: waiting on ${handle.container.slice(0, 12)} again`);
      // "not-running": it may have exited (and been removed: 404) while the engine was away.
      waited = client.containerWait(handle.container, { condition: "not-running" });
    }
  }
  // Give the log follower a moment to drain what the container printed last.
  await new Promise((r) => setTimeout(r, 50));
  handle.stopLogs.abort();
  return handle.logTail.length > 0 ? `${how}; last log lines:\n${handle.logTail.join("\n")}` : how;
}
