/**
 * Which runner containers are leftovers: the parent-liveness rules shared by
 * `DockerBackend.reap()` and the `reap` command of the CLI; and their removal.
 *
 * @module
 */

import type { DockerClient } from "../../docker/client.ts";
import { DockerError } from "../../docker/errors.ts";
import type { ContainerSummary, DockerCallOptions } from "../../docker/types.ts";
import { hostname, pathExists, pid as ownPid } from "../../runtime.ts";
import type { Logger } from "../../util/logger.ts";
import {
  LABEL_PARENT,
  LABEL_PARENT_CONTAINER,
  LABEL_PARENT_PROCESS,
  LABEL_POOL,
  LABEL_PROJECT,
} from "./labels.ts";
import { ENGINE_ANSWER_TIMEOUT, removeContainer } from "./stop.ts";

/**
 * Milliseconds a whole {@linkcode removeLeftovers} (list, inspects, removals)
 * may take; leftovers not reached by then are left for the next reap.
 */
export const REAP_TIMEOUT = 10_000;

/** Who is asking: facts about the caller that change the verdict. */
export interface ParentLivenessOptions extends DockerCallOptions {
  /**
   * The caller's own container id when the caller is a parent running in a
   * container: a label naming it with another instance id is an earlier life
   * of that container, so its parent is gone.
   */
  selfContainerId?: string;
  /** This host's name, compared with the `<hostname>:<pid>` label. @default {Deno.hostname()} */
  hostname?: string;
  /** The caller's pid: the same pid under another instance id is an earlier life. @default {Deno.pid} */
  pid?: number;
}

/** The verdict on one container's parent. */
export interface ParentLiveness {
  /** Whether the parent is (or may be) alive; unknown counts as alive. */
  alive: boolean;
  /** Why, in a few words (for logs and the CLI). */
  reason: string;
}

/**
 * Tells whether the parent that labelled a runner container is alive: its
 * parent container still runs, or its parent process on this host exists.
 * A parent that cannot be checked (another host, no labels) counts as alive,
 * so a leftover is never confused with a live runner.
 *
 * @param client The engine to inspect parent containers on.
 * @param labels The runner container's labels.
 * @param options Facts about the caller.
 * @returns The verdict and its reason.
 */
export async function parentLiveness(
  client: DockerClient,
  labels: Record<string, string>,
  options: ParentLivenessOptions = {},
): Promise<ParentLiveness> {
  const parentContainer = labels[LABEL_PARENT_CONTAINER];
  if (parentContainer) {
    const short = parentContainer.slice(0, 12);
    if (parentContainer === options.selfContainerId) {
      return { alive: false, reason: `parent container ${short} restarted since` };
    }
    try {
      const running = (await client.containerInspect(parentContainer, options)).State.Running;
      return {
        alive: running,
        reason: `parent container ${short} ${running ? "is running" : "has stopped"}`,
      };
    } catch (err) {
      if (err instanceof DockerError && err.notFound) {
        return { alive: false, reason: `parent container ${short} is gone` };
      }
      return { alive: true, reason: `parent container ${short} cannot be inspected` };
    }
  }
  const process = labels[LABEL_PARENT_PROCESS] ?? "";
  const [host, pid] = process.split(":");
  if (!pid) return { alive: true, reason: "no parent label: cannot tell" };
  if (host !== (options.hostname ?? hostname())) {
    return { alive: true, reason: `parent process ${process} is on another host: cannot tell` };
  }
  if (Number(pid) === (options.pid ?? ownPid())) {
    return { alive: false, reason: `parent process ${process} restarted since` };
  }
  return await pathExists(`/proc/${pid}`)
    ? { alive: true, reason: `parent process ${process} is running` }
    : { alive: false, reason: `parent process ${process} is gone` };
}

/** Options for {@linkcode findLeftovers}. */
export interface FindLeftoversOptions extends ParentLivenessOptions {
  /** Containers of this parent instance are never leftovers (the caller's own). */
  instanceId?: string;
  /** Only this pool's containers. */
  pool?: string;
}

/** A runner container whose parent is gone. */
export interface Leftover {
  /** The container. */
  container: ContainerSummary;
  /** Why its parent counts as gone. */
  reason: string;
}

/**
 * Lists runner containers (any state) whose parent is gone.
 *
 * @param client The engine.
 * @param options The caller's instance id, an optional pool, facts about the caller.
 * @returns The leftovers, in the engine's order.
 */
export async function findLeftovers(
  client: DockerClient,
  options: FindLeftoversOptions = {},
): Promise<Leftover[]> {
  const label = [`${LABEL_PROJECT}=runner`];
  if (options.pool !== undefined) label.push(`${LABEL_POOL}=${options.pool}`);
  const all = await client.containerList({
    all: true,
    filters: { label },
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
  });
  const leftovers: Leftover[] = [];
  for (const container of all) {
    if (options.instanceId !== undefined && container.Labels[LABEL_PARENT] === options.instanceId) {
      continue;
    }
    const verdict = await parentLiveness(client, container.Labels, options);
    if (!verdict.alive) leftovers.push({ container, reason: verdict.reason });
  }
  return leftovers;
}

/**
 * Removes the runner containers whose parent is gone ({@linkcode findLeftovers}),
 * logging each; a container that cannot be removed is logged and skipped.
 * Bounded: each engine call gets `options.timeout` (default
 * {@linkcode ENGINE_ANSWER_TIMEOUT}) and the whole reap {@linkcode REAP_TIMEOUT}.
 *
 * @param client The engine.
 * @param options The caller's instance id, an optional pool, facts about the caller.
 * @param log Where each removal is logged.
 * @returns How many containers were removed.
 * @throws {Error} When the runner containers cannot be listed.
 */
export async function removeLeftovers(
  client: DockerClient,
  options: FindLeftoversOptions,
  log: Logger,
): Promise<number> {
  const budget = new AbortController();
  const timer = setTimeout(() => {
    budget.abort(
      new Error(`Cannot reap leftovers: the engine did not finish within ${REAP_TIMEOUT} ms`),
    );
  }, REAP_TIMEOUT);
  const signal = options.signal ? AbortSignal.any([options.signal, budget.signal]) : budget.signal;
  const bounded = { ...options, timeout: options.timeout ?? ENGINE_ANSWER_TIMEOUT, signal };
  try {
    const leftovers = await findLeftovers(client, bounded);
    let removed = 0;
    for (const { container: c, reason } of leftovers) {
      try {
        await removeContainer(client, c.Id, bounded);
        removed++;
        log.info(`docker: reaped ${c.Names[0] ?? c.Id} (${reason})`);
      } catch (err) {
        log.warn(`docker: cannot reap ${c.Id.slice(0, 12)}: ${(err as Error).message}`);
      }
    }
    return removed;
  } finally {
    clearTimeout(timer);
  }
}
