/**
 * `DockerBackend`: each runner a container on a user-defined network, booted
 * through the Docker Engine API; works when the parent itself runs in a
 * container with the Docker socket mounted (Docker-out-of-Docker).
 *
 * @module
 */

import { DockerClient } from "../../docker/client.ts";
import { type Logger, silentLogger } from "../../util/logger.ts";
import type { Backend, BootSpec, ParentAddress, RunnerHandle } from "../backend.ts";
import { bootRunnerContainer, randomHex } from "./boot.ts";
import type { DockerHandle } from "./handle.ts";
import { pullIfMissing } from "./image_pull.ts";
import {
  type DockerBackendOptions,
  type ResolvedDockerBackendOptions,
  resolveDockerBackendOptions,
} from "./options.ts";
import {
  detectParentContainer,
  inferApp,
  inferImage,
  inferNetwork,
  type ParentContainer,
  resolveParentAddress,
} from "./parent_container.ts";
import { removeLeftovers } from "./reap.ts";
import { killRunnerContainer, stopRunnerContainer } from "./stop.ts";
import { transientEngineError } from "./transient.ts";

/** One id per parent process: every pool in it labels its runners with it. */
const PARENT_INSTANCE_ID = randomHex(10);

/**
 * Boots runners as Docker containers.
 *
 * Each container is named `<app>-flame-<20 hex>` (also its host name), joins
 * `network`, gets `FLAME_PARENT`, and carries labels naming the project, the
 * pool and the parent instance. Unless `keepRunners`, it has `AutoRemove`, so
 * a runner that exits after its parent died leaves nothing behind.
 *
 * @example
 * ```ts
 * import { DockerBackend, Pool } from "@flame/docker";
 *
 * // Needs a running engine, the image and the network: defined here, not called.
 * export async function main(): Promise<void> {
 *   await using pool = new Pool({
 *     backend: new DockerBackend({ image: "my-app:latest", network: "my_net" }),
 *     max: 10,
 *   });
 *   console.log(await pool.call(() => Deno.hostname()));
 * }
 * ```
 */
export class DockerBackend implements Backend {
  /**
   * Always `"docker"`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerBackend } from "@flame/docker";
   *
   * const backend = new DockerBackend({ image: "my-app:latest", network: "my_net" });
   * assert.equal(backend.name, "docker");
   * await backend.close();
   * ```
   */
  readonly name = "docker";
  /**
   * This parent process's instance id (the `dev.flame-docker.parent` label),
   * shared by its pools.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerBackend, LABEL_PARENT } from "@flame/docker";
   * import type { ContainerListOptions } from "@flame/docker/docker";
   *
   * const a = new DockerBackend({ image: "my-app:latest", network: "my_net" });
   * const b = new DockerBackend({ image: "my-app:latest", network: "my_net" });
   * assert.equal(a.instanceId, b.instanceId);
   * // The containers this process started:
   * const mine: ContainerListOptions = { filters: { label: [`${LABEL_PARENT}=${a.instanceId}`] } };
   * assert.equal(mine.filters?.label?.length, 1);
   * await a.close();
   * await b.close();
   * ```
   */
  readonly instanceId: string = PARENT_INSTANCE_ID;
  #opts: ResolvedDockerBackendOptions;
  #client: DockerClient;
  #log: Logger;
  #image: string | undefined;
  #network: string | undefined;
  #app: string | undefined;
  #parent: ParentContainer | undefined;
  #imageReady: Promise<void> | undefined;
  #running = new Set<DockerHandle>();
  #stops = new WeakMap<DockerHandle, Promise<void>>();
  #prepared: Promise<ParentAddress> | undefined;

  /**
   * Creates the backend; the engine is first contacted when the pool prepares it.
   *
   * @param options Image, network and the rest; validated here.
   * @throws {TypeError} Naming the option that is wrong.
   * @throws {RangeError} When `startTimeout` is not a positive number, or
   * `stopTimeout` is negative.
   *
   * @example Options are checked before any engine is contacted
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerBackend } from "@flame/docker";
   *
   * const backend = new DockerBackend({
   *   image: "my-app:latest",
   *   network: "my_net",
   *   env: { LOG_FORMAT: "json" },
   *   hostConfig: { Memory: 512 * 1024 * 1024 },
   *   stopTimeout: 2000,
   * });
   * await backend.close();
   *
   * assert.throws(() => new DockerBackend({ env: { FLAME_PARENT: "x" } }), TypeError);
   * assert.throws(() => new DockerBackend({ app: "my app" }), TypeError);
   * assert.throws(() => new DockerBackend({ startTimeout: 0 }), RangeError);
   * assert.throws(() => new DockerBackend({ stopTimeout: -1 }), RangeError);
   * ```
   */
  constructor(options: DockerBackendOptions = {}) {
    this.#opts = resolveDockerBackendOptions(options);
    this.#image = this.#opts.image;
    this.#network = this.#opts.network;
    this.#app = this.#opts.app;
    this.#log = this.#opts.logger ?? silentLogger;
    this.#client = new DockerClient(
      this.#opts.dockerSocketPath === undefined ? {} : { socketPath: this.#opts.dockerSocketPath },
    );
  }

  /**
   * The Docker client this backend uses (closed by `close()`).
   *
   * @returns The client.
   *
   * @example
   * ```ts
   * import { DockerBackend, LABEL_POOL, LABEL_PROJECT } from "@flame/docker";
   *
   * // Needs a running engine: defined here, not called.
   * export async function listRunners(backend: DockerBackend): Promise<string[]> {
   *   const containers = await backend.client.containerList({
   *     filters: { label: [`${LABEL_PROJECT}=runner`, `${LABEL_POOL}=thumbs`] },
   *   });
   *   return containers.map((c) => c.Id);
   * }
   * ```
   */
  get client(): DockerClient {
    return this.#client;
  }

  /**
   * Checks the engine, the network and the image; works out where the parent
   * listens and what runners dial. The pool calls it before the first boot.
   *
   * @returns The parent address.
   *
   * @example Checking a setup before starting a pool
   * ```ts
   * import { DockerBackend } from "@flame/docker";
   *
   * // Needs a running engine: defined here, not called.
   * export async function checkSetup(): Promise<void> {
   *   const backend = new DockerBackend({ image: "my-app:latest", network: "my_net" });
   *   try {
   *     const { listenHost, dialHost } = await backend.prepare();
   *     console.log(`Parent listens on ${listenHost}; runners dial ${dialHost}`);
   *   } finally {
   *     await backend.close();
   *   }
   * }
   * ```
   */
  prepare(): Promise<ParentAddress> {
    this.#prepared ??= this.#prepare();
    this.#prepared.catch(() => this.#prepared = undefined);
    return this.#prepared;
  }

  async #prepare(): Promise<ParentAddress> {
    const timeout = this.#opts.startTimeout;
    const ping = await this.#client.ping({ timeout });
    this.#parent = await detectParentContainer(this.#client, timeout);
    this.#network ??= inferNetwork(this.#parent);
    this.#image ??= inferImage(this.#parent);
    this.#app ??= inferApp(this.#parent);
    const localPodman = ping.engine === "podman" && this.#client.endpoint?.transport === "unix";
    return await resolveParentAddress(
      this.#client,
      this.#network,
      this.#parent,
      this.#opts,
      localPodman,
    );
  }

  #ensureImage(signal: AbortSignal, onEvent: BootSpec["onEvent"]): Promise<void> {
    this.#imageReady ??= pullIfMissing(this.#client, this.#image!, {
      options: this.#opts,
      signal,
      onEvent,
      log: this.#log,
    }).catch((err) => {
      this.#imageReady = undefined;
      throw err;
    });
    return this.#imageReady;
  }

  /**
   * Creates and starts a runner container. The pool calls it; a backend that
   * wraps this one can add to it.
   *
   * @param spec The boot spec.
   * @returns The handle; `exited` resolves when the container stops, with its last log lines.
   *
   * @example Logging each runner's container
   * ```ts
   * import { type Backend, type BootSpec, DockerBackend, type RunnerHandle } from "@flame/docker";
   *
   * export function audited(docker: DockerBackend): Backend {
   *   return {
   *     name: "docker-audited",
   *     prepare: () => docker.prepare(),
   *     async boot(spec: BootSpec): Promise<RunnerHandle> {
   *       const handle = await docker.boot(spec);
   *       console.log(`Runner ${spec.id} is container ${docker.containerOf(spec.id)}`);
   *       return handle;
   *     },
   *     stop: (handle) => docker.stop(handle),
   *     reap: (options) => docker.reap(options),
   *     close: () => docker.close(),
   *   };
   * }
   * ```
   */
  async boot(spec: BootSpec): Promise<RunnerHandle> {
    await this.prepare();
    return await bootRunnerContainer(this.#client, spec, {
      options: this.#opts,
      target: {
        image: this.#image!,
        network: this.#network!,
        app: this.#app!,
        parent: this.#parent,
        instanceId: this.instanceId,
      },
      ensureImage: (signal, onEvent) => this.#ensureImage(signal, onEvent),
      running: this.#running,
      log: this.#log,
    });
  }

  /**
   * Whether a failed boot is worth another try (the pool retries it, with
   * backoff, within `bootTimeout`): the engine answered 5xx or 409 (a name
   * race) without a permanent cause, or the connection was lost mid-call.
   *
   * @param error What {@linkcode DockerBackend.boot} rejected with.
   * @returns `true` when a retry may succeed.
   */
  transient(error: unknown): boolean {
    return transientEngineError(error);
  }

  /**
   * Stops and (unless `keepRunners`) removes a runner container. Already
   * stopped or removed counts as success; a second call joins the first.
   * Bounded whatever the engine does: it settles within `stopTimeout`
   * (rounded up to whole seconds) + 7 s, and `handle.exited` with it (as
   * "container state unknown" when the engine never reported the exit). The
   * pool calls it for each runner that leaves.
   *
   * @param handle The runner.
   * @throws {Error} When the container could not be removed, naming it.
   *
   * @example Logging why runners ended
   * ```ts
   * import { type Backend, DockerBackend, type RunnerHandle } from "@flame/docker";
   *
   * export function withStopLog(docker: DockerBackend): Backend {
   *   return {
   *     name: "docker-logged",
   *     prepare: () => docker.prepare(),
   *     boot: (spec) => docker.boot(spec),
   *     async stop(handle: RunnerHandle): Promise<void> {
   *       await docker.stop(handle);
   *       console.log(`Runner ${handle.id} stopped: ${await handle.exited}`);
   *     },
   *     close: () => docker.close(),
   *   };
   * }
   * ```
   */
  stop(handle: RunnerHandle): Promise<void> {
    const h = handle as DockerHandle;
    let stop = this.#stops.get(h);
    if (stop === undefined) {
      stop = stopRunnerContainer(this.#client, h, this.#opts, this.#log);
      this.#stops.set(h, stop);
    }
    return stop;
  }

  /**
   * Ends a runner abruptly, as a crash would (for tests and chaos drills):
   * sends its container a signal, SIGKILL by default, without waiting for the
   * engine.
   *
   * @param runnerId The runner's id.
   * @param signal The signal name.
   * @returns Whether a runner of that id was found.
   *
   * @example Simulating a crash
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerBackend, Pool, RunnerExitedError } from "@flame/docker";
   *
   * // Needs a running engine: defined here, not called.
   * export async function crashTest(): Promise<void> {
   *   const backend = new DockerBackend({ image: "my-app:latest", network: "my_net" });
   *   await using pool = new Pool({ backend, max: 1 });
   *   const child = await pool.placeChild(function () {
   *     return new Promise((resolve) => this.signal.addEventListener("abort", resolve));
   *   });
   *   backend.kill(child.runnerId);
   *   await assert.rejects(child.done, RunnerExitedError);
   * }
   *
   * const backend = new DockerBackend({ image: "my-app:latest", network: "my_net" });
   * assert.equal(backend.kill("no-such-runner"), false);
   * await backend.close();
   * ```
   */
  kill(runnerId: string, signal = "SIGKILL"): boolean {
    for (const h of this.#running) {
      if (h.id === runnerId) {
        killRunnerContainer(this.#client, h, signal, this.#log);
        return true;
      }
    }
    return false;
  }

  /**
   * The container id of a running runner (for tests and tooling).
   *
   * @param runnerId The runner's id.
   * @returns The container id, if the runner is running.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerBackend, Pool } from "@flame/docker";
   *
   * // Needs a running engine: defined here, not called.
   * export async function runnerMemory(): Promise<number | undefined> {
   *   const backend = new DockerBackend({ image: "my-app:latest", network: "my_net" });
   *   await using pool = new Pool({ backend, max: 1 });
   *   const child = await pool.placeChild(function () {
   *     return new Promise((resolve) => this.signal.addEventListener("abort", resolve));
   *   });
   *   const id = backend.containerOf(child.runnerId)!;
   *   const info = await backend.client.containerInspect(id);
   *   await child.stop();
   *   return info.HostConfig.Memory;
   * }
   *
   * const backend = new DockerBackend({ image: "my-app:latest", network: "my_net" });
   * assert.equal(backend.containerOf("no-such-runner"), undefined);
   * await backend.close();
   * ```
   */
  containerOf(runnerId: string): string | undefined {
    for (const h of this.#running) if (h.id === runnerId) return h.container;
    return undefined;
  }

  /**
   * Removes runner containers whose parent is gone: a parent container that no
   * longer runs, or a parent process on this host that no longer exists.
   * Containers of live parents are never touched. A pool reaps its own name's
   * leftovers when it starts; `flame reap` (the CLI) does the whole engine.
   * Bounded: each engine call gets 5 s, the whole reap 10 s (what it did
   * not reach is left for the next one).
   *
   * @param options `pool`: only containers of this pool name.
   * @returns How many containers were removed.
   *
   * @example
   * ```ts
   * import { DockerBackend } from "@flame/docker";
   *
   * // Needs a running engine: defined here, not called.
   * export async function cleanUp(): Promise<number> {
   *   const backend = new DockerBackend({ image: "my-app:latest", network: "my_net" });
   *   try {
   *     return await backend.reap({ pool: "thumbs" });
   *   } finally {
   *     await backend.close();
   *   }
   * }
   * ```
   */
  reap(options: { pool?: string } = {}): Promise<number> {
    return removeLeftovers(this.#client, {
      instanceId: this.instanceId,
      ...(this.#parent ? { selfContainerId: this.#parent.container.Id } : {}),
      ...(options.pool === undefined ? {} : { pool: options.pool }),
    }, this.#log);
  }

  /**
   * Stops runners still running (joining stops under way) and closes the
   * Docker client; bounded as `stop()` is, and never throws for a runner
   * that could not be removed (that is logged). A pool calls it last when it
   * closes.
   *
   * @example
   * ```ts
   * import { DockerBackend } from "@flame/docker";
   *
   * const backend = new DockerBackend({ image: "my-app:latest", network: "my_net" });
   * // No runner was booted, so no engine is needed to close it.
   * await backend.close();
   * ```
   */
  async close(): Promise<void> {
    const stops = await Promise.allSettled([...this.#running].map((h) => this.stop(h)));
    for (const stop of stops) {
      if (stop.status === "rejected") this.#log.warn(`docker: ${stop.reason?.message}`);
    }
    await this.#client.close();
  }
}
