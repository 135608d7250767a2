/**
 * The boot of a `DockerBackend` runner container: its image ready, then
 * created (name, env, labels, host config), watched for its exit and started;
 * its output forwarded, its last log lines kept to explain an exit, and an
 * exit the engine says was out of memory called so.
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
  LABEL_RUNNER,
} from "./labels.ts";
import { RunnerOutput } from "../runner_output.ts";
import { followLogs } from "./logs.ts";
import type { ResolvedDockerBackendOptions } from "./options.ts";
import type { ParentContainer } from "./parent_container.ts";
import { EXIT_REPORT_TIMEOUT, removeContainer } from "./stop.ts";

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
 * `image`, `created` and `started` phases. Every engine call has a deadline
 * (`startTimeout`, or the boot's signal). A container that never started
 * (its start failed, timed out or was aborted) is removed, even with
 * `keepRunners`: it never ran, so there is nothing in it to inspect, and the
 * engine's reason is in the error. It is never waited for: an engine may
 * never report the exit of a container that never ran.
 *
 * @param client The engine.
 * @param spec The boot spec.
 * @param context Options, target, image step, running set and logger.
 * @returns The handle; `exited` resolves when the container stops, with its last log lines.
 * @throws {Error} When a step fails; naming the container when it could not be removed.
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
    [LABEL_RUNNER]: spec.id,
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
  let created: { Id: string };
  try {
    created = await client.containerCreate({
      Image: target.image,
      Hostname: name,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: labels,
      ...(options.cmd ? { Cmd: options.cmd } : {}),
      HostConfig: hostConfig,
      NetworkingConfig: { EndpointsConfig: { [target.network]: {} } },
    }, { name, timeout, signal });
  } catch (err) {
    // Timed out, aborted or cut off: the engine may have created it all the same.
    const left = err instanceof DockerError
      ? ""
      : await removeUnstarted(client, name, err, context.log);
    if (left === "") throw err;
    throw new Error(`${(err as Error).message}${left}`, { cause: err });
  }
  phase("created", name);
  const handle: DockerHandle = {
    id: spec.id,
    container: created.Id,
    createdAt: Date.now(),
    logTail: [],
    stopLogs: new AbortController(),
    logsDone: Promise.resolve(),
    exited: Promise.resolve(""),
  };
  // Wait for the exit before starting, so a runner that dies at once is seen.
  const abandon = new AbortController();
  const waited = client.containerWait(created.Id, {
    condition: "next-exit",
    signal: abandon.signal,
  });
  handle.exited = describeExit(client, handle, waited, abandon, context.log);
  context.running.add(handle);
  handle.exited.then(() => context.running.delete(handle));
  try {
    await client.containerStart(created.Id, { timeout, signal });
  } catch (err) {
    const reason = (err as Error).message;
    const left = await removeUnstarted(client, created.Id, err, context.log);
    abandon.abort(new Error(`container never started: ${reason}`));
    await handle.exited;
    throw new Error(`Cannot start runner container "${name}": ${reason}${left}`, {
      cause: err,
    });
  }
  phase("started", name);
  handle.logsDone = followLogs(client, handle, new RunnerOutput(spec.onEvent));
  context.log.info(`docker: started ${name} for runner ${spec.id}`);
  return handle;
}

/**
 * Removes a container that never started (bounded by `ENGINE_ANSWER_TIMEOUT`).
 *
 * @returns `""` once removed (or never created), else why not and how to remove it by hand.
 */
async function removeUnstarted(
  client: DockerClient,
  container: string,
  why: unknown,
  log: Logger,
): Promise<string> {
  try {
    await removeContainer(client, container);
    log.debug(`docker: ${container.slice(0, 12)}, which never started, is gone`);
    return "";
  } catch (err) {
    const message = (err as Error).message;
    log.warn(
      `docker: cannot remove ${container.slice(0, 12)}, which never started (${
        (why as Error)?.message ?? why
      }): ${message}`,
    );
    return `; it was not removed either (${message}): remove it with \`docker rm -f ${container}\``;
  }
}

/**
 * Waits for the container's exit (again, if the engine connection drops) and
 * describes it. Once the runner is being stopped (`stopLogs` aborted), the
 * engine has `EXIT_REPORT_TIMEOUT` ms to report the exit: then the wait is
 * given up (`abandon` aborted) and the state is reported unknown. Aborting
 * `abandon` ends it at once with the abort reason as the description.
 */
async function describeExit(
  client: DockerClient,
  handle: DockerHandle,
  waited: Promise<{ StatusCode: number }>,
  abandon: AbortController,
  log: Logger,
): Promise<string> {
  let giveUp: ReturnType<typeof setTimeout> | undefined;
  const onStop = () => {
    giveUp = setTimeout(() => {
      abandon.abort(
        new Error(
          `container state unknown: the engine did not report its exit within ${EXIT_REPORT_TIMEOUT} ms of the stop`,
        ),
      );
    }, EXIT_REPORT_TIMEOUT);
  };
  handle.stopLogs.signal.addEventListener("abort", onStop, { once: true });
  let how: string;
  let waitingSince = Date.now();
  try {
    for (let delay = WAIT_RETRY_MIN;; delay = Math.min(delay * 2, WAIT_RETRY_MAX)) {
      try {
        const result = await waited;
        how = `container exited with code ${result.StatusCode}`;
        if (result.StatusCode !== 0) how += await outOfMemory(client, handle.container);
        break;
      } catch (err) {
        if (abandon.signal.aborted) {
          how = (abandon.signal.reason as Error).message;
          break;
        }
        if (err instanceof DockerError) {
          // Removed (AutoRemove) before a renewed wait: the engine's events still tell how it ended.
          how = err.notFound
            ? await exitFromEvents(client, handle.container, handle.createdAt)
            : `container wait failed: ${(err as Error).message}`;
          break;
        }
        // The engine connection dropped (engine or socket proxy restarting, or a proxy's
        // `timeout server` cutting a long wait): that says nothing about the runner, whose
        // link heartbeats tell whether it lives. Wait again, through a stop too (the exit
        // report bound ends that); a wait that lived a while is renewed at once.
        if (Date.now() - waitingSince >= WAIT_RETRY_MAX) delay = WAIT_RETRY_MIN;
        if (!await abortableDelay(delay, abandon.signal)) {
          how = (abandon.signal.reason as Error | undefined)?.message ??
            `container wait failed: ${(err as Error).message}`;
          break;
        }
        waitingSince = Date.now();
        log.debug(`docker: waiting on ${handle.container.slice(0, 12)} again`);
        // "not-running": it may have exited (and been removed: 404) while the engine was away.
        waited = client.containerWait(handle.container, {
          condition: "not-running",
          signal: abandon.signal,
        });
      }
    }
  } finally {
    clearTimeout(giveUp);
    handle.stopLogs.signal.removeEventListener("abort", onStop);
  }
  // The engine ends a follow once the container stops: let it deliver the last lines.
  await settledWithin(handle.logsDone, LOG_DRAIN_TIMEOUT);
  handle.stopLogs.abort();
  return handle.logTail.length > 0 ? `${how}; last log lines:\n${handle.logTail.join("\n")}` : how;
}

/** Milliseconds the log follow gets, once the exit is known, to deliver the container's last lines. */
const LOG_DRAIN_TIMEOUT = 500;

/** Resolves once `p` settles or `ms` pass (the timer is cleared). */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise((r) => timer = setTimeout(r, ms))]);
  clearTimeout(timer);
}

/** Milliseconds the engine gets to show an exited container's state (before `AutoRemove` takes it). */
const STATE_TIMEOUT = 2_000;

/**
 * `bytes` in words: `64 MiB`, `1.5 GiB`.
 *
 * @param bytes A size in bytes.
 * @returns The size with its unit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "./boot.ts";
 *
 * assert.equal(formatBytes(64 * 1024 * 1024), "64 MiB");
 * assert.equal(formatBytes(1.5 * 1024 ** 3), "1.5 GiB");
 * assert.equal(formatBytes(4096), "4096 bytes");
 * ```
 */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}

/**
 * What the engine says of an exit that was not clean: `": out of memory …"`
 * when the kernel killed it at its memory limit (`State.OOMKilled`), else
 * `""` (also when the container is already gone: `AutoRemove` is quick, so
 * this is asked at once).
 */
/**
 * How a container already removed ended, from the engine's `die` and `oom`
 * events since its creation; `"container removed"` when they do not say.
 */
async function exitFromEvents(
  client: DockerClient,
  container: string,
  since: number,
): Promise<string> {
  try {
    const events = await client.events({
      // A minute early: a remote engine's clock may be behind ours.
      since: since / 1000 - 60,
      filters: { container: [container], event: ["die", "oom"] },
      timeout: STATE_TIMEOUT,
    });
    const died = events.findLast((e) => e.Action === "die");
    const code = died?.Actor.Attributes?.exitCode;
    if (code === undefined) return "container removed";
    const oom = events.some((e) => e.Action === "oom")
      ? ": out of memory (killed by the kernel at its memory limit: raise hostConfig.Memory, or use less memory per call)"
      : "";
    return `container exited with code ${code}${oom} (and was removed)`;
  } catch {
    return "container removed";
  }
}

async function outOfMemory(client: DockerClient, container: string): Promise<string> {
  try {
    const info = await client.containerInspect(container, { timeout: STATE_TIMEOUT });
    if (!info.State.OOMKilled) return "";
    const limit = info.HostConfig.Memory;
    return limit
      ? `: out of memory (the kernel killed it at its memory limit of ${
        formatBytes(limit)
      }, hostConfig.Memory: raise it, or use less memory per call)`
      : ": out of memory (killed by the kernel; it has no memory limit, so the host ran out)";
  } catch {
    return "";
  }
}
