/**
 * `DockerBackend`: each runner a container on a user-defined network, booted
 * through the Docker Engine API; works when the parent itself runs in a
 * container with the Docker socket mounted (Docker-out-of-Docker).
 *
 * @module
 */

import { DockerClient } from "../docker/client.ts";
import { DockerError } from "../docker/errors.ts";
import type { ContainerInspect, HostConfig, Mount, RegistryAuth } from "../docker/types.ts";
import { cwd, hostname, pathExists, pid } from "../runtime.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import type { Backend, BootSpec, ParentAddress, RunnerHandle } from "./backend.ts";

import {
  LABEL_PARENT,
  LABEL_PARENT_CONTAINER,
  LABEL_PARENT_PROCESS,
  LABEL_POOL,
  LABEL_PROJECT,
} from "./_docker_labels.ts";
import { findLeftovers } from "./_docker_reap.ts";

export {
  LABEL_PARENT,
  LABEL_PARENT_CONTAINER,
  LABEL_PARENT_PROCESS,
  LABEL_POOL,
  LABEL_PROJECT,
} from "./_docker_labels.ts";

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

/** Options for {@linkcode DockerBackend}. */
export interface DockerBackendOptions {
  /**
   * The runner image; its CMD must run `runner.ts`. Defaults to the parent
   * container's own image (Docker-out-of-Docker).
   */
  image?: string;
  /**
   * The user-defined network runners join. Defaults to the parent container's
   * only user-defined network.
   */
  network?: string;
  /**
   * Extra runner environment, merged over {@linkcode DEFAULT_RUNNER_ENV}.
   * `FLAME_PARENT` cannot be set.
   */
  env?: Record<string, string>;
  /**
   * Passed through into the create body's `HostConfig` (`AutoRemove` and
   * `NetworkMode` are the backend's).
   */
  hostConfig?: HostConfig;
  /** Mounts added to `HostConfig.Mounts`. */
  mounts?: Mount[];
  /** Overrides the image's `CMD`. */
  cmd?: string[];
  /**
   * The Docker socket: a path, `unix:///path` or `tcp://host:port`. Defaults to
   * `DOCKER_HOST`, else the first of `$XDG_RUNTIME_DIR/docker.sock` and
   * `/var/run/docker.sock` that answers.
   */
  dockerSocketPath?: string;
  /**
   * Milliseconds for the Docker side of a boot (inspect, pull, create, start).
   *
   * @default {30000}
   */
  bootTimeout?: number;
  /**
   * Keep exited runner containers for inspection (no `AutoRemove`, not removed
   * on stop).
   *
   * @default {false}
   */
  keepRunners?: boolean;
  /**
   * Runner env variable that receives the container's host name.
   *
   * @default {"HOSTNAME"}
   */
  runnerHostnameEnv?: string;
  /**
   * Host name runners dial to reach the parent. Defaults to the parent's own
   * container name when it runs in a container (Docker-out-of-Docker), else the
   * network's gateway address.
   */
  parentHost?: string;
  /**
   * Address the parent listens on when `parentHost` is given.
   *
   * @default {"0.0.0.0"}
   */
  listenHost?: string;
  /**
   * Prefix of container names (`<app>-flame-<20 hex>`). Defaults to the parent
   * container's name, else the working directory's name.
   */
  app?: string;
  /** Extra labels on every runner container. */
  labels?: Record<string, string>;
  /**
   * When to pull the image: only when missing, or never.
   *
   * @default {"missing"}
   */
  pull?: "missing" | "never";
  /** Registry credentials for a pull. */
  registryAuth?: RegistryAuth;
  /**
   * Seconds `stop` gives a runner between SIGTERM and SIGKILL.
   *
   * @default {5}
   */
  stopTimeout?: number;
  /**
   * Where the backend logs (pull progress, boots, stops). Defaults to logging
   * nothing.
   */
  logger?: Logger;
  /** Called with each pull progress line. */
  onPullProgress?: (
    event: { image: string; status: string; id?: string; progress?: string },
  ) => void;
}

interface DockerHandle extends RunnerHandle {
  exited: Promise<string>;
  container: string;
  logTail: string[];
  stopLogs: AbortController;
}

interface Self {
  container: ContainerInspect;
  network: string | undefined;
}

function nonEmpty(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") {
    throw new TypeError(`Invalid DockerBackend option "${name}": expected a non-empty string`);
  }
  return value;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

function sanitizeApp(name: string): string {
  const clean = name.toLowerCase().replace(/[^a-z0-9_.-]+/g, "-").replace(/^[^a-z0-9]+/, "")
    .slice(0, 40);
  return clean === "" ? "app" : clean;
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
  #opts: DockerBackendOptions;
  #client: DockerClient;
  #log: Logger;
  #image: string | undefined;
  #network: string | undefined;
  #app: string | undefined;
  #self: Self | undefined;
  #imageReady: Promise<void> | undefined;
  #running = new Set<DockerHandle>();
  #prepared: Promise<ParentAddress> | undefined;

  /**
   * Creates the backend; the engine is first contacted when the pool prepares it.
   *
   * @param options Image, network and the rest; validated here.
   * @throws {TypeError} Naming the option that is wrong.
   * @throws {RangeError} When `bootTimeout` is not a positive number.
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
   *   stopTimeout: 2,
   * });
   * await backend.close();
   *
   * assert.throws(() => new DockerBackend({ env: { FLAME_PARENT: "x" } }), TypeError);
   * assert.throws(() => new DockerBackend({ app: "my app" }), TypeError);
   * assert.throws(() => new DockerBackend({ bootTimeout: 0 }), RangeError);
   * ```
   */
  constructor(options: DockerBackendOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("Invalid DockerBackend options: expected an object");
    }
    this.#image = nonEmpty("image", options.image);
    this.#network = nonEmpty("network", options.network);
    nonEmpty("dockerSocketPath", options.dockerSocketPath);
    nonEmpty("parentHost", options.parentHost);
    nonEmpty("listenHost", options.listenHost);
    nonEmpty("runnerHostnameEnv", options.runnerHostnameEnv);
    if (options.app !== undefined) {
      const app = nonEmpty("app", options.app)!;
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(app)) {
        throw new TypeError(
          `Invalid DockerBackend option "app": ${
            JSON.stringify(app)
          } must be letters, digits, "_", "." or "-"`,
        );
      }
      this.#app = app;
    }
    if (options.env !== undefined) {
      if (typeof options.env !== "object" || options.env === null) {
        throw new TypeError('Invalid DockerBackend option "env": expected an object of strings');
      }
      for (const [k, v] of Object.entries(options.env)) {
        if (k === "FLAME_PARENT") {
          throw new TypeError(
            'Invalid DockerBackend option "env": FLAME_PARENT is set by the pool for each runner (it carries the runner\'s secret) and cannot be overridden',
          );
        }
        if (typeof v !== "string" || k === "" || k.includes("=")) {
          throw new TypeError(
            `Invalid DockerBackend option "env": ${
              JSON.stringify(k)
            } must be a name with a string value`,
          );
        }
      }
    }
    if (
      options.cmd !== undefined &&
      (!Array.isArray(options.cmd) || options.cmd.some((c) => typeof c !== "string"))
    ) {
      throw new TypeError('Invalid DockerBackend option "cmd": expected an array of strings');
    }
    if (options.mounts !== undefined && !Array.isArray(options.mounts)) {
      throw new TypeError('Invalid DockerBackend option "mounts": expected an array');
    }
    if (
      options.hostConfig !== undefined &&
      (typeof options.hostConfig !== "object" || options.hostConfig === null)
    ) {
      throw new TypeError('Invalid DockerBackend option "hostConfig": expected an object');
    }
    const bootTimeout = options.bootTimeout ?? 30_000;
    if (typeof bootTimeout !== "number" || !(bootTimeout > 0) || !Number.isFinite(bootTimeout)) {
      throw new RangeError(
        `Invalid DockerBackend option "bootTimeout": ${bootTimeout} must be a positive number of milliseconds`,
      );
    }
    if (options.pull !== undefined && options.pull !== "missing" && options.pull !== "never") {
      throw new TypeError('Invalid DockerBackend option "pull": expected "missing" or "never"');
    }
    this.#opts = options;
    this.#log = options.logger ?? silentLogger;
    this.#client = new DockerClient(
      options.dockerSocketPath === undefined ? {} : { socketPath: options.dockerSocketPath },
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
    const timeout = this.#opts.bootTimeout ?? 30_000;
    await this.#client.ping({ timeout });
    this.#self = await this.#detectSelf(timeout);
    if (this.#network === undefined) {
      if (this.#self?.network === undefined) {
        throw new TypeError(
          'Invalid DockerBackend option "network": it is required (the parent is not in a container on a user-defined network to infer it from)',
        );
      }
      this.#network = this.#self.network;
    }
    if (this.#image === undefined) {
      if (this.#self === undefined) {
        throw new TypeError(
          'Invalid DockerBackend option "image": it is required (the parent is not in a container whose image could be reused)',
        );
      }
      this.#image = this.#self.container.Config.Image;
    }
    this.#app ??= sanitizeApp(
      this.#self?.container.Name.replace(/^\//, "") ?? cwd().split("/").pop() ?? "app",
    );
    let network;
    try {
      network = await this.#client.networkInspect(this.#network, { timeout });
    } catch (err) {
      if (err instanceof DockerError && err.status === 404) {
        throw new Error(
          `Cannot use network "${this.#network}": it does not exist (create it with \`docker network create ${this.#network}\`)`,
          { cause: err },
        );
      }
      throw err;
    }
    if (this.#opts.parentHost !== undefined) {
      return { listenHost: this.#opts.listenHost ?? "0.0.0.0", dialHost: this.#opts.parentHost };
    }
    const selfOnNet = this.#self?.container.NetworkSettings.Networks?.[network.Name];
    if (this.#self !== undefined && selfOnNet?.IPAddress) {
      // Parent in a container on the runners' network: runners resolve its name.
      return {
        listenHost: selfOnNet.IPAddress,
        dialHost: this.#self.container.Name.replace(/^\//, ""),
      };
    }
    const gateway = network.IPAM.Config?.find((c) => c.Gateway)?.Gateway;
    if (gateway === undefined) {
      throw new Error(
        `Cannot reach the parent from network "${network.Name}": it has no IPv4 gateway; set the "parentHost" option`,
      );
    }
    return { listenHost: gateway, dialHost: gateway };
  }

  async #detectSelf(timeout: number): Promise<Self | undefined> {
    if (!await pathExists("/.dockerenv")) return undefined;
    let container: ContainerInspect;
    try {
      container = await this.#client.containerInspect(hostname(), { timeout });
    } catch (err) {
      if (err instanceof DockerError && err.status === 404) return undefined;
      throw err;
    }
    const networks = Object.keys(container.NetworkSettings.Networks ?? {})
      .filter((n) => !["bridge", "host", "none"].includes(n));
    return { container, network: networks.length === 1 ? networks[0] : undefined };
  }

  #ensureImage(signal: AbortSignal, onEvent: BootSpec["onEvent"]): Promise<void> {
    this.#imageReady ??= this.#pullIfMissing(signal, onEvent).catch((err) => {
      this.#imageReady = undefined;
      throw err;
    });
    return this.#imageReady;
  }

  async #pullIfMissing(signal: AbortSignal, onEvent: BootSpec["onEvent"]): Promise<void> {
    const image = this.#image!;
    const timeout = this.#opts.bootTimeout ?? 30_000;
    try {
      await this.#client.imageInspect(image, { timeout, signal });
      return;
    } catch (err) {
      if (!(err instanceof DockerError && err.status === 404)) throw err;
    }
    if (this.#opts.pull === "never") {
      throw new Error(`Cannot boot a runner: image "${image}" is missing and "pull" is "never"`);
    }
    this.#log.info(`docker: pulling ${image}`);
    const pull = this.#client.imagePull(image, {
      timeout,
      signal,
      ...(this.#opts.registryAuth ? { auth: this.#opts.registryAuth } : {}),
    });
    for await (const p of pull) {
      const event = {
        image,
        status: p.status ?? "",
        ...(p.id === undefined ? {} : { id: p.id }),
        ...(p.progress === undefined ? {} : { progress: p.progress }),
      };
      this.#log.debug(`docker: pull ${image}: ${event.status} ${event.progress ?? ""}`);
      this.#opts.onPullProgress?.(event);
      onEvent?.("flame.docker.pull.progress", {
        "flame.image": image,
        "flame.status": event.status,
        ...(event.id === undefined ? {} : { "flame.layer": event.id }),
        ...(event.progress === undefined ? {} : { "flame.progress": event.progress }),
      });
    }
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
    const timeout = this.#opts.bootTimeout ?? 30_000;
    const signal = spec.signal;
    const phase = (name: string, container?: string) =>
      spec.onEvent?.("flame.runner.boot.phase", {
        "flame.phase": name,
        ...(container === undefined ? {} : { "container.name": container }),
      });
    await this.#ensureImage(signal, spec.onEvent);
    phase("image");
    const name = `${this.#app}-flame-${randomHex(10)}`;
    const keep = this.#opts.keepRunners ?? false;
    const env: Record<string, string> = {
      ...DEFAULT_RUNNER_ENV,
      ...this.#opts.env,
      [this.#opts.runnerHostnameEnv ?? "HOSTNAME"]: name,
      FLAME_PARENT: spec.parentEnv,
    };
    const labels: Record<string, string> = {
      ...this.#opts.labels,
      [LABEL_PROJECT]: "runner",
      [LABEL_POOL]: spec.pool,
      [LABEL_PARENT]: this.instanceId,
      [LABEL_PARENT_PROCESS]: `${hostname()}:${pid()}`,
      ...(this.#self ? { [LABEL_PARENT_CONTAINER]: this.#self.container.Id } : {}),
    };
    const hostConfig: HostConfig = {
      ...this.#opts.hostConfig,
      AutoRemove: !keep,
      NetworkMode: this.#network!,
      ...(this.#opts.mounts
        ? { Mounts: [...(this.#opts.hostConfig?.Mounts ?? []), ...this.#opts.mounts] }
        : {}),
    };
    const created = await this.#client.containerCreate({
      Image: this.#image!,
      Hostname: name,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: labels,
      ...(this.#opts.cmd ? { Cmd: this.#opts.cmd } : {}),
      HostConfig: hostConfig,
      NetworkingConfig: { EndpointsConfig: { [this.#network!]: {} } },
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
    const waited = this.#client.containerWait(created.Id, { condition: "next-exit" });
    handle.exited = this.#describeExit(handle, waited);
    this.#running.add(handle);
    handle.exited.then(() => this.#running.delete(handle));
    try {
      await this.#client.containerStart(created.Id, { timeout, signal });
    } catch (err) {
      await this.stop(handle);
      throw new Error(`Cannot start runner container "${name}": ${(err as Error).message}`, {
        cause: err,
      });
    }
    phase("started", name);
    this.#followLogs(handle);
    this.#log.info(`docker: started ${name} for runner ${spec.id}`);
    return handle;
  }

  async #followLogs(handle: DockerHandle): Promise<void> {
    try {
      for await (
        const chunk of this.#client.containerLogs(handle.container, {
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

  async #describeExit(
    handle: DockerHandle,
    waited: Promise<{ StatusCode: number }>,
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
        this.#log.debug(`docker: waiting on ${handle.container.slice(0, 12)} again`);
        // "not-running": it may have exited (and been removed: 404) while the engine was away.
        waited = this.#client.containerWait(handle.container, { condition: "not-running" });
      }
    }
    // Give the log follower a moment to drain what the container printed last.
    await new Promise((r) => setTimeout(r, 50));
    handle.stopLogs.abort();
    return handle.logTail.length > 0
      ? `${how}; last log lines:\n${handle.logTail.join("\n")}`
      : how;
  }

  /**
   * Stops and (unless `keepRunners`) removes a runner container. Already
   * stopped or removed counts as success. The pool calls it for each runner
   * that leaves.
   *
   * @param handle The runner.
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
  async stop(handle: RunnerHandle): Promise<void> {
    const h = handle as DockerHandle;
    try {
      await this.#client.containerStop(h.container, { t: this.#opts.stopTimeout ?? 5 });
    } catch (err) {
      if (!(err instanceof DockerError && (err.status === 404 || err.status === 304))) {
        this.#log.warn(
          `docker: cannot stop ${h.container.slice(0, 12)}: ${(err as Error).message}`,
        );
      }
    }
    try {
      if (!this.#opts.keepRunners) await this.#remove(h.container);
    } finally {
      h.stopLogs.abort();
    }
    await h.exited;
  }

  async #remove(container: string): Promise<void> {
    try {
      await this.#client.containerRemove(container, { force: true });
    } catch (err) {
      // 404: gone already (AutoRemove); 409: its removal is already under way.
      if (!(err instanceof DockerError && (err.status === 404 || err.status === 409))) throw err;
    }
  }

  /**
   * Sends a signal to a runner container (SIGKILL by default: a crash, for tests and chaos).
   *
   * @param runnerId The runner's id.
   * @param signal The signal name.
   * @returns Whether such a runner was running.
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
        this.#client.containerKill(h.container, { killSignal: signal }).catch(() => {});
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
  async reap(options: { pool?: string } = {}): Promise<number> {
    const leftovers = await findLeftovers(this.#client, {
      instanceId: this.instanceId,
      ...(this.#self ? { selfContainerId: this.#self.container.Id } : {}),
      ...(options.pool === undefined ? {} : { pool: options.pool }),
    });
    let removed = 0;
    for (const { container: c, reason } of leftovers) {
      try {
        await this.#remove(c.Id);
        removed++;
        this.#log.info(`docker: reaped ${c.Names[0] ?? c.Id} (${reason})`);
      } catch (err) {
        this.#log.warn(`docker: cannot reap ${c.Id.slice(0, 12)}: ${(err as Error).message}`);
      }
    }
    return removed;
  }

  /**
   * Stops runners still running and closes the Docker client. A pool calls it
   * last when it closes.
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
    await Promise.all([...this.#running].map((h) => this.stop(h)));
    await this.#client.close();
  }
}
