/**
 * The Docker Engine API client: typed calls over a pool of keep-alive
 * HTTP/1.1 connections to the engine's unix (or tcp) socket.
 *
 * {@linkcode DockerClient} reads as a table of endpoints, grouped as the
 * engine's API reference groups them (system, images, containers, networks),
 * followed by the private request and version-negotiation machinery. The file
 * is long because it is one concept: one class, one method per endpoint, each
 * with its required doc example.
 *
 * @module
 */

import { CallScope } from "./_scope.ts";
import { connectEndpoint, HttpConnection, StaleConnectionError } from "./connection.ts";
import { DockerConnectionError, DockerError, DockerProtocolError } from "./errors.ts";
import { encodeRequest, type HttpRequest } from "./http_request.ts";
import type { ResponseHead } from "./http_response.ts";
import { JsonLinesDecoder } from "./json_lines.ts";
import { type LogChunk, LogDemuxer } from "./log_demux.ts";
import { ConnectionPool, type ConnectionPoolStats } from "./connection_pool.ts";
import { asClientError, DockerResponse } from "./response.ts";
import {
  connectFailureReason,
  connectionError,
  describeDockerEndpointChoice,
  discoverDockerEndpoint,
  type DiscoveredDockerEndpoint,
  type DockerEndpoint,
  type DockerEndpointChoice,
  formatDockerEndpoint,
} from "./endpoint.ts";
import type { Logger } from "../util/logger.ts";
import type {
  ContainerCreateBody,
  ContainerCreateOptions,
  ContainerCreateResult,
  ContainerInspect,
  ContainerKillOptions,
  ContainerListOptions,
  ContainerLogsOptions,
  ContainerRemoveOptions,
  ContainerStopOptions,
  ContainerSummary,
  ContainerWaitOptions,
  ContainerWaitResult,
  DockerCallOptions,
  DockerEvent,
  DockerPing,
  DockerVersion,
  EventsOptions,
  ImageInspect,
  ImagePullOptions,
  ImagePullProgress,
  NetworkInspect,
  RegistryAuth,
  SystemInfo,
} from "./types.ts";

/**
 * Highest Engine API version this client speaks (Docker Engine 29); a newer
 * engine is spoken to at this version, unless its minimum is above it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_API_VERSION } from "@flame/docker/docker";
 *
 * assert.equal(MAX_API_VERSION, "1.52");
 * ```
 */
export const MAX_API_VERSION = "1.52";
/**
 * Lowest Engine API version this client accepts (Docker Engine 1.12).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MIN_API_VERSION } from "@flame/docker/docker";
 *
 * assert.equal(MIN_API_VERSION, "1.24");
 * ```
 */
export const MIN_API_VERSION = "1.24";

/** Options for {@linkcode DockerClient}. */
export interface DockerClientOptions {
  /**
   * The engine's socket: a path, `unix:///path`, `tcp://host:port` (TLS when
   * `DOCKER_TLS_VERIFY` or `DOCKER_TLS` is set, as with `docker -H`) or
   * `ssh://[user@]host[:port]`. When set, the only endpoint tried.
   *
   * @default {undefined} discovered as the docker CLI does: `DOCKER_HOST`,
   * `DOCKER_CONTEXT`, the current context, `/var/run/docker.sock`, then (only
   * when that is missing) rootless, Docker Desktop, Colima, OrbStack, Rancher
   * Desktop and Podman sockets; see `src/docker/endpoint.ts`
   */
  socketPath?: string;
  /**
   * The engine's endpoint as an object, for what a URL cannot carry (TLS
   * material, `tls.verify: false`, ssh arguments). When set, the only
   * endpoint tried; give this or `socketPath`, not both.
   *
   * @default {undefined} discovered, as for `socketPath`
   */
  endpoint?: DockerEndpoint;
  /**
   * Reads an environment variable during endpoint discovery (`DOCKER_HOST`,
   * `DOCKER_CONTEXT`, `DOCKER_CONFIG`, `HOME`, …).
   *
   * @default {(name) => Deno.env.get(name)}
   */
  env?: (name: string) => string | undefined;
  /**
   * Where the client logs: one debug line naming the endpoint discovery
   * settled on and why.
   *
   * @default {undefined} logs nothing
   */
  logger?: Logger;
  /**
   * API version to use, skipping negotiation (such as `"1.41"`).
   *
   * @default {undefined} negotiated with the engine, capped at {@linkcode MAX_API_VERSION}
   */
  apiVersion?: string;
  /**
   * Default timeout of every call, in milliseconds.
   *
   * @default {undefined} no timeout
   */
  timeout?: number;
  /**
   * Most idle connections kept open for reuse.
   *
   * @default {8}
   */
  maxIdleConnections?: number;
  /**
   * Milliseconds after which an idle connection is closed.
   *
   * @default {5000}
   */
  idleTimeout?: number;
  /**
   * Largest response head accepted, in bytes.
   *
   * @default {65536}
   */
  maxHeaderSize?: number;
}

/** What a call adds to the common options. */
interface RequestExtra {
  /** JSON body. */
  body?: unknown;
  /** Extra headers. */
  headers?: Record<string, string>;
  /** Prefix the path with the API version (default true). */
  versioned?: boolean;
  /** Treat 304 as success. */
  notModified?: boolean;
}

const NO_EXTRA: RequestExtra = {};
const UNVERSIONED: RequestExtra = { versioned: false };
const NOT_MODIFIED_OK: RequestExtra = { notModified: true };

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);
const textDecoder = new TextDecoder();

/**
 * A client for the Docker Engine API.
 *
 * It finds the engine's socket on first use, negotiates the API version
 * once, and reuses connections. Every call takes `{ signal, timeout }`; an
 * aborted call's connection is destroyed. Close the client (or use
 * `await using`) to close every connection.
 *
 * Errors: {@linkcode DockerError} when the engine answers with an error,
 * {@linkcode DockerConnectionError} when it cannot be reached,
 * {@linkcode DockerProtocolError} for a malformed response, the signal's
 * reason or a `TimeoutError` `DOMException` when a call is aborted.
 *
 * @example Running a container and reading its output
 * ```ts
 * import { collectLogs, DockerClient } from "@flame/docker/docker";
 *
 * // Needs a running engine and the image.
 * export async function echo(text: string): Promise<string> {
 *   await using docker = new DockerClient();
 *   const { Id } = await docker.containerCreate({ Image: "alpine:3", Cmd: ["echo", text] });
 *   try {
 *     await docker.containerStart(Id);
 *     await docker.containerWait(Id);
 *     return (await collectLogs(docker.containerLogs(Id))).stdout;
 *   } finally {
 *     await docker.containerRemove(Id, { force: true });
 *   }
 * }
 * ```
 */
export class DockerClient implements AsyncDisposable {
  #options: DockerClientOptions;
  #pool: ConnectionPool;
  #endpoint: DockerEndpoint | undefined;
  #choice: DockerEndpointChoice | undefined;
  #host = "docker";
  #discovery: Promise<DiscoveredDockerEndpoint<HttpConnection>> | undefined;
  #prefix: string | undefined;
  #negotiation: Promise<string> | undefined;
  #maxHeaderSize: number;

  // ---- lifecycle ------------------------------------------------------------

  /**
   * Creates a client; nothing is connected until the first call.
   *
   * @param options Socket, API version, timeouts and pool limits.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * await using docker = new DockerClient({ socketPath: "unix:///var/run/docker.sock", timeout: 30_000 });
   * ```
   */
  constructor(options: DockerClientOptions = {}) {
    this.#options = options;
    this.#maxHeaderSize = options.maxHeaderSize ?? 65536;
    if (options.endpoint !== undefined && options.socketPath !== undefined) {
      throw new TypeError(
        "Cannot create Docker client: give the socketPath or the endpoint option, not both",
      );
    }
    if (options.apiVersion !== undefined) {
      if (!/^1\.[0-9]{1,3}$/.test(options.apiVersion)) {
        throw new TypeError(
          `Cannot create Docker client: invalid API version "${options.apiVersion}"`,
        );
      }
      this.#prefix = `/v${options.apiVersion}`;
    }
    this.#pool = new ConnectionPool({
      connect: () => this.#connect(),
      maxIdle: options.maxIdleConnections ?? 8,
      idleTimeout: options.idleTimeout ?? 5000,
    });
  }

  /**
   * The endpoint in use, once discovered.
   *
   * @returns The endpoint, or `undefined` before the first call.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerClient } from "@flame/docker/docker";
   *
   * await using docker = new DockerClient({ socketPath: "/var/run/docker.sock" });
   * assert.equal(docker.endpoint, undefined); // nothing connected yet
   * ```
   */
  get endpoint(): DockerEndpoint | undefined {
    return this.#endpoint;
  }

  /**
   * Which endpoint discovery chose and why: its source (such as
   * `"DOCKER_CONTEXT"` or `"default"`), the context's name, and the
   * fallbacks skipped on the way.
   *
   * @returns The choice, or `undefined` before the first call.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function whichEngine(): Promise<string> {
   *   await using docker = new DockerClient();
   *   await docker.ping();
   *   const choice = docker.endpointChoice!;
   *   return `${choice.source}${choice.context === undefined ? "" : ` ${choice.context}`}`;
   * }
   * ```
   */
  get endpointChoice(): DockerEndpointChoice | undefined {
    return this.#choice;
  }

  /**
   * The API version in use, once negotiated (or as given).
   *
   * @returns Such as `"1.41"`, or `undefined` before negotiation.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerClient } from "@flame/docker/docker";
   *
   * await using docker = new DockerClient({ apiVersion: "1.41" });
   * assert.equal(docker.apiVersion, "1.41");
   * ```
   */
  get apiVersion(): string | undefined {
    return this.#prefix?.slice(2);
  }

  /**
   * How many connections are idle and busy.
   *
   * @returns The pool's counts.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerClient } from "@flame/docker/docker";
   *
   * await using docker = new DockerClient();
   * const { idle, busy } = docker.connections;
   * assert.ok(idle === 0 && busy === 0);
   * ```
   */
  get connections(): ConnectionPoolStats {
    return this.#pool.stats;
  }

  /**
   * Closes every connection (idle and busy; calls in flight fail).
   *
   * @returns When done.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * const docker = new DockerClient();
   * await docker.close();
   * ```
   */
  close(): Promise<void> {
    this.#pool.close();
    return Promise.resolve();
  }

  /**
   * Closes the client, for `await using`.
   *
   * @returns When done.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerClient } from "@flame/docker/docker";
   *
   * {
   *   await using docker = new DockerClient();
   *   assert.equal(docker.connections.busy, 0);
   * } // closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- system ---------------------------------------------------------------

  /**
   * Negotiates the API version: the engine's (from `/_ping`, else
   * `/version`), capped at {@linkcode MAX_API_VERSION}. Done once; calls do
   * it on demand.
   *
   * @param options Signal and timeout.
   * @returns The version in use, such as `"1.41"`.
   * @throws {DockerProtocolError} When the engine is older than {@linkcode MIN_API_VERSION}.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function apiPrefix(docker: DockerClient): Promise<string> {
   *   return `/v${await docker.negotiateApiVersion({ timeout: 5_000 })}`;
   * }
   * ```
   */
  async negotiateApiVersion(options: DockerCallOptions = {}): Promise<string> {
    if (this.#prefix !== undefined) return this.#prefix.slice(2);
    const scope = new CallScope(
      options.signal,
      options.timeout ?? this.#options.timeout,
      "negotiate the Docker API version",
    );
    try {
      return await scope.race(this.#negotiate(), () => {});
    } finally {
      scope.dispose();
    }
  }

  /**
   * Checks that the engine answers (`GET /_ping`).
   *
   * @param options Signal and timeout.
   * @returns What the engine's headers tell.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function engineApiVersion(): Promise<string | undefined> {
   *   await using docker = new DockerClient({ timeout: 5_000 });
   *   return (await docker.ping()).apiVersion;
   * }
   * ```
   */
  async ping(options: DockerCallOptions = {}): Promise<DockerPing> {
    const response = await this.#request(
      "GET",
      "/_ping",
      "ping the Docker engine",
      options,
      UNVERSIONED,
    );
    await response.discard();
    const headers = response.head.headers;
    const apiVersion = headers.get("api-version");
    if (
      this.#prefix === undefined && apiVersion !== undefined &&
      compareVersions(apiVersion, MAX_API_VERSION) <= 0
    ) {
      try {
        this.#adoptVersion(apiVersion);
      } catch {
        // An unsupported engine still answers pings; calls will report it.
      }
    }
    const libpod = headers.get("libpod-api-version") ??
      /^libpod\/(\S+)/i.exec(headers.get("server") ?? "")?.[1];
    return {
      apiVersion,
      osType: headers.get("ostype"),
      experimental: headers.get("docker-experimental") === "true",
      engine: libpod === undefined ? "docker" : "podman",
      ...(libpod === undefined ? {} : { podmanVersion: libpod }),
    };
  }

  /**
   * Reads the engine's version (`GET /version`).
   *
   * @param options Signal and timeout.
   * @returns Engine and API versions, OS and architecture.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function engineVersion(docker: DockerClient): Promise<string> {
   *   return (await docker.version()).Version;
   * }
   * ```
   */
  async version(options: DockerCallOptions = {}): Promise<DockerVersion> {
    const response = await this.#request("GET", "/version", "read the Docker version", options);
    return await response.json<DockerVersion>();
  }

  /**
   * Reads what the engine tells of itself and its host (`GET /info`).
   *
   * @param options Signal and timeout.
   * @returns The engine's name, operating system, kernel and the like.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function engineHost(docker: DockerClient): Promise<string> {
   *   return (await docker.info()).OperatingSystem;
   * }
   * ```
   */
  async info(options: DockerCallOptions = {}): Promise<SystemInfo> {
    const response = await this.#request("GET", "/info", "read the Docker engine's info", options);
    return await response.json<SystemInfo>();
  }

  /**
   * Past engine events in a time window (`GET /events` with `since` and
   * `until`: the engine answers with what it recorded and ends the answer),
   * such as the `die` of a container already removed.
   *
   * @param options The window, filters, signal and timeout.
   * @returns The events, oldest first.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function exitCode(docker: DockerClient, id: string, since: number) {
   *   const died = await docker.events({ since, filters: { container: [id], event: ["die"] } });
   *   return died.at(-1)?.Actor.Attributes?.exitCode;
   * }
   * ```
   */
  async events(options: EventsOptions): Promise<DockerEvent[]> {
    const until = options.until ?? Date.now() / 1000;
    let query = `since=${options.since.toFixed(3)}&until=${until.toFixed(3)}`;
    if (options.filters !== undefined) {
      query += `&filters=${encodeURIComponent(JSON.stringify(options.filters))}`;
    }
    const response = await this.#request("GET", `/events?${query}`, "read engine events", options);
    const decoder = new JsonLinesDecoder();
    const events: DockerEvent[] = [];
    try {
      for (let piece = await response.read(); piece !== null; piece = await response.read()) {
        for (const line of decoder.push(piece)) events.push(line as DockerEvent);
      }
      for (const line of decoder.finish()) events.push(line as DockerEvent);
    } finally {
      response.cancel();
    }
    return events;
  }

  // ---- images ---------------------------------------------------------------

  /**
   * Inspects an image (`GET /images/{name}/json`).
   *
   * @param name Image name, tag or ID.
   * @param options Signal and timeout.
   * @returns The image's details.
   * @throws {DockerError} With `notFound` when the image is not present.
   *
   * @example
   * ```ts
   * import { DockerClient, DockerError } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function hasImage(docker: DockerClient, image: string): Promise<boolean> {
   *   try {
   *     await docker.imageInspect(image);
   *     return true;
   *   } catch (error) {
   *     if (error instanceof DockerError && error.notFound) return false;
   *     throw error;
   *   }
   * }
   * ```
   */
  async imageInspect(name: string, options: DockerCallOptions = {}): Promise<ImageInspect> {
    const response = await this.#request(
      "GET",
      `/images/${pathName(name)}/json`,
      `inspect image "${name}"`,
      options,
    );
    return await response.json<ImageInspect>();
  }

  /**
   * Pulls an image (`POST /images/create`), yielding its progress lines.
   * The pull starts when iteration starts and is complete when iteration
   * ends; an error line in the stream is thrown as a {@linkcode DockerError}.
   *
   * @param image Image reference, such as `"registry:5000/app:1.2"`.
   * @param options Tag, platform, credentials, signal and timeout.
   * @returns The progress lines.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine and a reachable registry.
   * export async function pull(docker: DockerClient, image: string): Promise<void> {
   *   for await (const progress of docker.imagePull(image, { timeout: 600_000 })) {
   *     console.log(progress.status, progress.id ?? "");
   *   }
   * }
   * ```
   */
  async *imagePull(
    image: string,
    options: ImagePullOptions = {},
  ): AsyncGenerator<ImagePullProgress, void, undefined> {
    const reference = splitImageReference(image);
    let query = `fromImage=${encodeURIComponent(reference.name)}&tag=${
      encodeURIComponent(options.tag ?? reference.tag)
    }`;
    if (options.platform !== undefined) {
      query += `&platform=${encodeURIComponent(options.platform)}`;
    }
    const headers: Record<string, string> = {};
    if (options.auth !== undefined) headers["X-Registry-Auth"] = encodeRegistryAuth(options.auth);
    const action = `pull image "${image}"`;
    const path = `/images/create?${query}`;
    const response = await this.#request("POST", path, action, options, { headers });
    const decoder = new JsonLinesDecoder();
    const check = (line: unknown): ImagePullProgress => {
      const progress = line as ImagePullProgress;
      if (progress.error !== undefined || progress.errorDetail?.message !== undefined) {
        const message = progress.error ?? progress.errorDetail?.message ?? "unknown error";
        throw new DockerError(`Cannot ${action}: ${message}`, {
          status: response.head.status,
          engineMessage: message,
          method: "POST",
          path: response.path,
        });
      }
      return progress;
    };
    try {
      for (let piece = await response.read(); piece !== null; piece = await response.read()) {
        for (const line of decoder.push(piece)) yield check(line);
      }
      for (const line of decoder.finish()) yield check(line);
    } finally {
      response.cancel();
    }
  }

  // ---- containers -----------------------------------------------------------

  /**
   * Creates a container (`POST /containers/create`).
   *
   * @param body Image, command, environment, labels, host and network configuration.
   * @param options Name, platform, signal and timeout.
   * @returns The new container's ID and the engine's warnings.
   * @throws {DockerError} With `conflict` when the name is taken, `notFound` when the image is missing.
   *
   * @example
   * ```ts
   * import { DockerClient, DockerError } from "@flame/docker/docker";
   *
   * // Needs a running engine and the image.
   * export async function createDemo(docker: DockerClient): Promise<string | undefined> {
   *   try {
   *     const { Id } = await docker.containerCreate(
   *       { Image: "alpine:3", Cmd: ["sleep", "60"], Labels: { app: "demo" } },
   *       { name: "demo-1" },
   *     );
   *     return Id;
   *   } catch (error) {
   *     if (error instanceof DockerError && error.conflict) return undefined; // name taken
   *     throw error;
   *   }
   * }
   * ```
   */
  async containerCreate(
    body: ContainerCreateBody,
    options: ContainerCreateOptions = {},
  ): Promise<ContainerCreateResult> {
    let query = "";
    if (options.name !== undefined) query += `&name=${encodeURIComponent(options.name)}`;
    if (options.platform !== undefined) {
      query += `&platform=${encodeURIComponent(options.platform)}`;
    }
    const action = options.name === undefined
      ? `create container from image "${body.Image}"`
      : `create container "${options.name}"`;
    const response = await this.#request(
      "POST",
      query === "" ? "/containers/create" : `/containers/create?${query.slice(1)}`,
      action,
      options,
      { body },
    );
    return await response.json<ContainerCreateResult>();
  }

  /**
   * Starts a container (`POST /containers/{id}/start`).
   *
   * @param id Container ID or name.
   * @param options Signal and timeout.
   * @returns `true` when started, `false` when it was already running (304).
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function ensureRunning(docker: DockerClient, id: string): Promise<void> {
   *   const started = await docker.containerStart(id);
   *   if (!started) console.log(`${id} was already running`);
   * }
   * ```
   */
  async containerStart(id: string, options: DockerCallOptions = {}): Promise<boolean> {
    const response = await this.#request(
      "POST",
      `/containers/${pathName(id)}/start`,
      `start container "${id}"`,
      options,
      NOT_MODIFIED_OK,
    );
    await response.discard();
    return response.head.status !== 304;
  }

  /**
   * Stops a container (`POST /containers/{id}/stop`): the stop signal, then
   * SIGKILL after `t` seconds.
   *
   * @param id Container ID or name.
   * @param options Grace period `t`, signal and timeout.
   * @returns `true` when stopped, `false` when it was not running (304).
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function stopQuickly(docker: DockerClient, id: string): Promise<boolean> {
   *   return await docker.containerStop(id, { t: 2, timeout: 10_000 });
   * }
   * ```
   */
  async containerStop(id: string, options: ContainerStopOptions = {}): Promise<boolean> {
    const query = options.t === undefined ? "" : `?t=${Math.max(0, Math.trunc(options.t))}`;
    const response = await this.#request(
      "POST",
      `/containers/${pathName(id)}/stop${query}`,
      `stop container "${id}"`,
      options,
      NOT_MODIFIED_OK,
    );
    await response.discard();
    return response.head.status !== 304;
  }

  /**
   * Sends a signal to a container (`POST /containers/{id}/kill`).
   *
   * @param id Container ID or name.
   * @param options The signal to send (`killSignal`, default SIGKILL), signal and timeout.
   * @returns When delivered.
   * @throws {DockerError} With `conflict` when the container is not running.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function terminate(docker: DockerClient, id: string): Promise<void> {
   *   await docker.containerKill(id, { killSignal: "SIGTERM" });
   * }
   * ```
   */
  async containerKill(id: string, options: ContainerKillOptions = {}): Promise<void> {
    const query = options.killSignal === undefined
      ? ""
      : `?signal=${encodeURIComponent(options.killSignal)}`;
    const response = await this.#request(
      "POST",
      `/containers/${pathName(id)}/kill${query}`,
      `kill container "${id}"`,
      options,
    );
    await response.discard();
  }

  /**
   * Waits for a container to stop (`POST /containers/{id}/wait`).
   *
   * @param id Container ID or name.
   * @param options Condition, signal and timeout.
   * @returns Its exit code.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function exitCode(docker: DockerClient, id: string): Promise<number> {
   *   return (await docker.containerWait(id, { condition: "not-running" })).StatusCode;
   * }
   * ```
   */
  async containerWait(
    id: string,
    options: ContainerWaitOptions = {},
  ): Promise<ContainerWaitResult> {
    const query = options.condition === undefined
      ? ""
      : `?condition=${encodeURIComponent(options.condition)}`;
    const response = await this.#request(
      "POST",
      `/containers/${pathName(id)}/wait${query}`,
      `wait for container "${id}"`,
      options,
    );
    return await response.json<ContainerWaitResult>();
  }

  /**
   * Inspects a container (`GET /containers/{id}/json`).
   *
   * @param id Container ID or name.
   * @param options Signal and timeout.
   * @returns Its state, configuration and network settings.
   * @throws {DockerError} With `notFound` when there is no such container.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function isRunning(docker: DockerClient, id: string): Promise<boolean> {
   *   return (await docker.containerInspect(id)).State.Running;
   * }
   * ```
   */
  async containerInspect(id: string, options: DockerCallOptions = {}): Promise<ContainerInspect> {
    const response = await this.#request(
      "GET",
      `/containers/${pathName(id)}/json`,
      `inspect container "${id}"`,
      options,
    );
    return await response.json<ContainerInspect>();
  }

  /**
   * Reads a container's output (`GET /containers/{id}/logs`), demultiplexed
   * into stdout and stderr chunks (a TTY container's single stream is
   * reported as stdout). With `follow`, iteration lasts until the container
   * stops; breaking out of it ends the request.
   *
   * @param id Container ID or name.
   * @param options Streams, `follow`, `tail`, time range, signal and timeout.
   * @returns The output chunks.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function tail(docker: DockerClient, id: string): Promise<void> {
   *   for await (const { stream, data } of docker.containerLogs(id, { follow: true })) {
   *     (stream === "stdout" ? Deno.stdout : Deno.stderr).writeSync(data);
   *   }
   * }
   * ```
   */
  async *containerLogs(
    id: string,
    options: ContainerLogsOptions = {},
  ): AsyncGenerator<LogChunk, void, undefined> {
    const tty = options.tty ??
      (await this.containerInspect(id, options)).Config.Tty;
    let query = `stdout=${options.stdout === false ? 0 : 1}&stderr=${
      options.stderr === false ? 0 : 1
    }`;
    if (options.follow) query += "&follow=1";
    if (options.tail !== undefined) query += `&tail=${options.tail}`;
    if (options.since !== undefined) query += `&since=${options.since}`;
    if (options.until !== undefined) query += `&until=${options.until}`;
    if (options.timestamps) query += "&timestamps=1";
    const response = await this.#request(
      "GET",
      `/containers/${pathName(id)}/logs?${query}`,
      `read logs of container "${id}"`,
      options,
    );
    try {
      if (tty) {
        for (let piece = await response.read(); piece !== null; piece = await response.read()) {
          yield { stream: "stdout", data: piece };
        }
        return;
      }
      const demuxer = new LogDemuxer();
      for (let piece = await response.read(); piece !== null; piece = await response.read()) {
        yield* demuxer.push(piece);
      }
      demuxer.finish();
    } finally {
      response.cancel();
    }
  }

  /**
   * Lists containers (`GET /containers/json`).
   *
   * @param options `all`, `limit`, filters such as `{ label: ["k=v", "k"] }`, signal and timeout.
   * @returns One summary per container.
   *
   * @example
   * ```ts
   * import { type ContainerSummary, DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export function demoContainers(docker: DockerClient): Promise<ContainerSummary[]> {
   *   return docker.containerList({ all: true, filters: { label: ["app=demo"] } });
   * }
   * ```
   */
  async containerList(options: ContainerListOptions = {}): Promise<ContainerSummary[]> {
    let query = "";
    if (options.all) query += "&all=1";
    if (options.limit !== undefined) query += `&limit=${Math.trunc(options.limit)}`;
    if (options.filters !== undefined) {
      query += `&filters=${encodeURIComponent(JSON.stringify(options.filters))}`;
    }
    const response = await this.#request(
      "GET",
      query === "" ? "/containers/json" : `/containers/json?${query.slice(1)}`,
      "list containers",
      options,
    );
    return await response.json<ContainerSummary[]>();
  }

  /**
   * Removes a container (`DELETE /containers/{id}`).
   *
   * @param id Container ID or name.
   * @param options `force` (kill it first), `volumes`, signal and timeout.
   * @returns When removed.
   * @throws {DockerError} With `notFound` when there is no such container, `conflict` when it runs (without `force`).
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function discard(docker: DockerClient, id: string): Promise<void> {
   *   await docker.containerRemove(id, { force: true, volumes: true });
   * }
   * ```
   */
  async containerRemove(id: string, options: ContainerRemoveOptions = {}): Promise<void> {
    let query = "";
    if (options.force) query += "&force=1";
    if (options.volumes) query += "&v=1";
    const response = await this.#request(
      "DELETE",
      `/containers/${pathName(id)}${query === "" ? "" : `?${query.slice(1)}`}`,
      `remove container "${id}"`,
      options,
    );
    await response.discard();
  }

  // ---- networks -------------------------------------------------------------

  /**
   * Inspects a network (`GET /networks/{id}`).
   *
   * @param id Network name or ID.
   * @param options Signal and timeout.
   * @returns Its driver, subnets and gateways, and attached containers.
   * @throws {DockerError} With `notFound` when there is no such network.
   *
   * @example
   * ```ts
   * import { DockerClient } from "@flame/docker/docker";
   *
   * // Needs a running engine.
   * export async function gateway(docker: DockerClient, network: string): Promise<string | undefined> {
   *   return (await docker.networkInspect(network)).IPAM.Config?.[0]?.Gateway;
   * }
   * ```
   */
  async networkInspect(id: string, options: DockerCallOptions = {}): Promise<NetworkInspect> {
    const response = await this.#request(
      "GET",
      `/networks/${pathName(id)}`,
      `inspect network "${id}"`,
      options,
    );
    return await response.json<NetworkInspect>();
  }

  // ---- request machinery ----------------------------------------------------

  async #request(
    method: string,
    path: string,
    action: string,
    options: DockerCallOptions,
    extra: RequestExtra = NO_EXTRA,
  ): Promise<DockerResponse> {
    const scope = new CallScope(options.signal, options.timeout ?? this.#options.timeout, action);
    try {
      if (this.#pool.closed) {
        throw new DockerConnectionError(`Cannot ${action}: the Docker client is closed`, {
          attempts: [],
        });
      }
      if (scope.aborted) throw scope.reason;
      let target = path;
      if (extra.versioned !== false) {
        target = (this.#prefix ?? `/v${await scope.race(this.#negotiate(), () => {})}`) + path;
      }
      let headers = extra.headers;
      let body: string | undefined;
      if (extra.body !== undefined) {
        body = JSON.stringify(extra.body);
        headers = { ...headers, "Content-Type": "application/json" };
      }
      const request: HttpRequest = { method, path: target, host: this.#host };
      if (headers !== undefined) request.headers = headers;
      if (body !== undefined) request.body = body;
      const bytes = encodeRequest(request);
      let head: ResponseHead;
      let conn: HttpConnection;
      for (let attempt = 0;; attempt++) {
        conn = await scope.race(this.#pool.acquire(attempt > 0), (c) => this.#pool.destroy(c));
        const current = conn;
        scope.attach(() => this.#pool.destroy(current));
        try {
          head = await conn.send(bytes, { method, maxHeaderSize: this.#maxHeaderSize });
          break;
        } catch (error) {
          this.#pool.destroy(conn);
          if (
            error instanceof StaleConnectionError && attempt === 0 && !scope.aborted &&
            (error.unsent || IDEMPOTENT.has(method))
          ) continue;
          throw error;
        }
      }
      const response = new DockerResponse(this.#pool, conn, scope, head, target);
      const status = head.status;
      if (status >= 200 && status < 300) return response;
      if (status === 304 && extra.notModified) return response;
      const { message, cause } = engineMessage(
        textDecoder.decode(await response.bytes()),
        head,
        method,
        target,
      );
      throw new DockerError(`Cannot ${action}: ${this.#explain(status, message)}`, {
        status,
        engineMessage: message,
        ...(cause === undefined ? {} : { engineCause: cause }),
        method,
        path: target,
      });
    } catch (error) {
      scope.dispose();
      if (scope.aborted) throw scope.reason;
      throw asClientError(error, action);
    }
  }

  /** Adds what to do to the engine's refusals whose fix is on this side. */
  #explain(status: number, message: string): string {
    if (status === 400 && /HTTP request to an HTTPS server/i.test(message)) {
      return `${message} (the engine listens with TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or use a TLS context)`;
    }
    const tooOld = status === 400 ? TOO_OLD.exec(message) : null;
    if (tooOld === null) return message;
    const pinned = this.#options.apiVersion !== undefined;
    return `${message} (the engine accepts API ${
      tooOld[2]
    } and newer; this client speaks ${MIN_API_VERSION} to ${MAX_API_VERSION}${
      pinned
        ? `: remove the apiVersion option "${this.#options.apiVersion}" to negotiate, or set it to ${
          tooOld[2]
        } or newer`
        : ""
    })`;
  }

  #negotiate(): Promise<string> {
    if (this.#prefix !== undefined) return Promise.resolve(this.#prefix.slice(2));
    this.#negotiation ??= (async () => {
      try {
        const ping = await this.#request(
          "GET",
          "/_ping",
          "negotiate the Docker API version",
          {},
          UNVERSIONED,
        );
        await ping.discard();
        let engine = ping.head.headers.get("api-version");
        let minimum: string | undefined;
        // The engine's minimum matters only when it is newer than this client.
        if (engine === undefined || compareVersions(engine, MAX_API_VERSION) > 0) {
          const response = await this.#request(
            "GET",
            "/version",
            "negotiate the Docker API version",
            {},
            UNVERSIONED,
          );
          const version = await response.json<DockerVersion>();
          engine = version.ApiVersion ?? engine;
          minimum = version.MinAPIVersion;
        }
        if (typeof engine !== "string") {
          throw new DockerProtocolError(
            "Cannot negotiate the Docker API version: the engine names it neither in /_ping (Api-Version) nor in /version (ApiVersion); is this a Docker engine?",
          );
        }
        return this.#adoptVersion(engine, minimum);
      } finally {
        this.#negotiation = undefined;
      }
    })();
    return this.#negotiation;
  }

  #adoptVersion(engine: string, minimum?: string): string {
    const version = compareVersions(engine, MAX_API_VERSION) > 0 ? MAX_API_VERSION : engine;
    if (!/^1\.[0-9]{1,3}$/.test(version) || compareVersions(version, MIN_API_VERSION) < 0) {
      throw new DockerProtocolError(
        `Cannot use Docker engine API version "${engine}": this client needs ${MIN_API_VERSION} to ${MAX_API_VERSION}; upgrade the engine`,
      );
    }
    if (minimum !== undefined && compareVersions(minimum, MAX_API_VERSION) > 0) {
      throw new DockerProtocolError(
        `Cannot use the Docker engine: it speaks API ${minimum} to ${engine}, this client ${MIN_API_VERSION} to ${MAX_API_VERSION}; upgrade flame-docker (or use an engine that still accepts API ${MAX_API_VERSION})`,
      );
    }
    this.#prefix = `/v${version}`;
    return version;
  }

  async #connect(): Promise<HttpConnection> {
    if (this.#endpoint === undefined) {
      if (this.#discovery === undefined) {
        // Whoever starts discovery gets the probe's connection; the others connect anew.
        this.#discovery = this.#discover().finally(() => {
          this.#discovery = undefined;
        });
        return (await this.#discovery).probed;
      }
      await this.#discovery;
    }
    const endpoint = this.#endpoint!;
    try {
      return new HttpConnection(await connectEndpoint(endpoint), endpoint);
    } catch (error) {
      throw connectionError(
        [{ endpoint: formatDockerEndpoint(endpoint), reason: connectFailureReason(error) }],
        error,
      );
    }
  }

  async #discover(): Promise<DiscoveredDockerEndpoint<HttpConnection>> {
    const { socketPath, endpoint, env } = this.#options;
    const found = await discoverDockerEndpoint({
      ...(socketPath === undefined ? {} : { socketPath }),
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(env === undefined ? {} : { env }),
      probe: async (endpoint) => new HttpConnection(await connectEndpoint(endpoint), endpoint),
    });
    const { probed: _, ...choice } = found;
    this.#choice = choice;
    this.#endpoint = found.endpoint;
    this.#options.logger?.debug(`Docker engine: ${describeDockerEndpointChoice(choice)}`);
    if (found.endpoint.transport === "tcp") {
      const { hostname, port } = found.endpoint;
      this.#host = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
    }
    return found;
  }
}

/** Docker's refusal of a client version below its minimum (`client version 1.41 is too old. Minimum supported API version is 1.44, …`). */
const TOO_OLD = /client version (\S+) is too old\. Minimum supported API version is ([0-9.]+)/;

/**
 * The engine's message: `message` of its JSON error body, else the text. A
 * body that is not the engine's (an HTML page from a proxy such as
 * docker-socket-proxy) is not quoted: the message says who refused what.
 */
function engineMessage(
  text: string,
  head: ResponseHead,
  method: string,
  path: string,
): { message: string; cause?: string } {
  try {
    const body = JSON.parse(text) as { message?: unknown; cause?: unknown };
    if (typeof body.message === "string") {
      return typeof body.cause === "string" && body.cause !== ""
        ? { message: body.message, cause: body.cause }
        : { message: body.message };
    }
  } catch {
    // Not JSON: use the text itself.
  }
  const status = `${head.status} ${head.statusText}`.trim();
  const type = head.headers.get("content-type") ?? "";
  const trimmed = text.trim();
  if (/html/i.test(type) || /^<(!doctype|html|head|body|h1)\b/i.test(trimmed)) {
    const refused = head.status === 401 || head.status === 403 || head.status === 405;
    return {
      message: refused
        ? `the engine or a proxy in front of it refused ${method} ${path} with status ${status} (a socket proxy must allow this call: see SECURITY.md)`
        : `the engine or a proxy in front of it answered ${method} ${path} with status ${status} and a non-Docker (HTML) body`,
    };
  }
  return { message: trimmed === "" ? status : trimmed };
}

/**
 * Percent-encodes a name for a path segment, keeping the characters image
 * names use. A container name as the engine reports it (`/web`, in `Name`
 * and `Names`) loses its leading slash, which would make `//` in the path.
 */
function pathName(name: string): string {
  const bare = name.startsWith("/") ? name.slice(1) : name;
  if (bare === "") throw new TypeError(`Cannot send request: empty name ${JSON.stringify(name)}`);
  return encodeURIComponent(bare).replace(/%2F/g, "/").replace(/%3A/g, ":").replace(/%40/g, "@");
}

function splitImageReference(image: string): { name: string; tag: string } {
  const at = image.indexOf("@");
  if (at !== -1) return { name: image.slice(0, at), tag: image.slice(at + 1) };
  const colon = image.lastIndexOf(":");
  if (colon > image.lastIndexOf("/")) {
    return { name: image.slice(0, colon), tag: image.slice(colon + 1) };
  }
  return { name: image, tag: "latest" };
}

function encodeRegistryAuth(auth: RegistryAuth): string {
  const bytes = new TextEncoder().encode(JSON.stringify(auth));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  // The engine decodes base64url with padding.
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_");
}

function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}
