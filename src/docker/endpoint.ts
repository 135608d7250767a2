/**
 * Finding the Docker engine's endpoint (a unix or tcp socket): an explicit
 * option, else `DOCKER_HOST`, else the rootless socket in `$XDG_RUNTIME_DIR`,
 * then `/var/run/docker.sock`.
 *
 * @module
 */

import { env as runtimeEnv } from "../runtime.ts";
import { socketErrorKind } from "../transport.ts";
import { type DockerConnectionAttempt, DockerConnectionError } from "./errors.ts";

/** Where the engine listens: a unix socket or a TCP address. */
export type DockerEndpoint =
  | {
    /** A unix domain socket. */
    transport: "unix";
    /** Its path. */
    path: string;
  }
  | {
    /** A plain TCP socket (no TLS). */
    transport: "tcp";
    /** Host name or address. */
    hostname: string;
    /** Port. */
    port: number;
  };

/** Where a candidate endpoint came from. */
export type DockerEndpointSource = "option" | "DOCKER_HOST" | "XDG_RUNTIME_DIR" | "default";

/** One endpoint to try, in discovery order. */
export interface DockerEndpointCandidate {
  /** Where it came from. */
  source: DockerEndpointSource;
  /** The text it was given as (a path or a `unix://` / `tcp://` URL). */
  value: string;
  /** The parsed endpoint, or `undefined` when `value` is not usable. */
  endpoint: DockerEndpoint | undefined;
  /** Why `value` is not usable, when `endpoint` is `undefined`. */
  problem?: string;
}

/** Options for {@linkcode dockerEndpointCandidates}. */
export interface DockerEndpointCandidatesOptions {
  /** An explicit socket path or `unix://` / `tcp://` URL; when set, the only candidate. */
  socketPath?: string;
  /**
   * Reads an environment variable (`DOCKER_HOST`, `XDG_RUNTIME_DIR`).
   *
   * @default {(name) => Deno.env.get(name)}
   */
  env?: (name: string) => string | undefined;
}

/**
 * The socket tried last when nothing is configured.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_DOCKER_SOCKET } from "@flame/docker/docker";
 *
 * assert.equal(DEFAULT_DOCKER_SOCKET, "/var/run/docker.sock");
 * ```
 */
export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/**
 * Parses a `DOCKER_HOST`-style value: `unix:///path`, `tcp://host:port`
 * (port defaults to 2375) or a bare absolute path.
 *
 * @param value The text to parse.
 * @returns The endpoint.
 * @throws {TypeError} For another scheme (such as `ssh://` or `npipe://`) or a malformed value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDockerHost } from "@flame/docker/docker";
 *
 * const endpoint = parseDockerHost("tcp://127.0.0.1:2375");
 * assert.ok(endpoint.transport === "tcp" && endpoint.port === 2375);
 * ```
 */
export function parseDockerHost(value: string): DockerEndpoint {
  if (value.startsWith("/")) return { transport: "unix", path: value };
  if (value.startsWith("unix://")) {
    const path = value.slice("unix://".length);
    if (!path.startsWith("/")) {
      throw new TypeError(`Cannot use Docker host "${value}": the socket path must be absolute`);
    }
    return { transport: "unix", path };
  }
  if (value.startsWith("tcp://")) {
    const match = /^tcp:\/\/(\[[0-9A-Fa-f:.]+\]|[^:/\[\]]+)(?::([0-9]{1,5}))?\/?$/.exec(value);
    const port = match?.[2] === undefined ? 2375 : Number(match[2]);
    if (match === null || port < 1 || port > 65535) {
      throw new TypeError(`Cannot use Docker host "${value}": expected tcp://host:port`);
    }
    return { transport: "tcp", hostname: match[1]!.replace(/^\[|\]$/g, ""), port };
  }
  throw new TypeError(
    `Cannot use Docker host "${value}": only unix:// and tcp:// are supported`,
  );
}

/**
 * Formats an endpoint as a URL (`unix:///path` or `tcp://host:port`).
 *
 * @param endpoint The endpoint.
 * @returns Its URL form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDockerEndpoint } from "@flame/docker/docker";
 *
 * assert.ok(
 *   formatDockerEndpoint({ transport: "unix", path: "/var/run/docker.sock" }) ===
 *     "unix:///var/run/docker.sock",
 * );
 * ```
 */
export function formatDockerEndpoint(endpoint: DockerEndpoint): string {
  if (endpoint.transport === "unix") return `unix://${endpoint.path}`;
  const host = endpoint.hostname.includes(":") ? `[${endpoint.hostname}]` : endpoint.hostname;
  return `tcp://${host}:${endpoint.port}`;
}

/**
 * Lists the endpoints to try, in order. A configured endpoint is
 * authoritative, as with the docker CLI: the explicit option if given, else
 * `DOCKER_HOST` if set, is the only candidate (falling back from it could
 * silently drive another engine). Only when neither is set are the usual
 * sockets probed: `$XDG_RUNTIME_DIR/docker.sock` (rootless Docker), then
 * `/var/run/docker.sock`. Pure: it reads only the injected environment.
 *
 * @param options The explicit option and the environment reader.
 * @returns The candidates, without duplicates.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dockerEndpointCandidates } from "@flame/docker/docker";
 *
 * const env: Record<string, string> = { XDG_RUNTIME_DIR: "/run/user/1000" };
 * const candidates = dockerEndpointCandidates({ env: (name) => env[name] });
 * assert.ok(candidates.map((c) => c.value).join() ===
 *   "/run/user/1000/docker.sock,/var/run/docker.sock");
 * ```
 */
export function dockerEndpointCandidates(
  options: DockerEndpointCandidatesOptions = {},
): DockerEndpointCandidate[] {
  const env = options.env ?? runtimeEnv;
  const candidates: DockerEndpointCandidate[] = [];
  const add = (source: DockerEndpointSource, value: string) => {
    if (candidates.some((c) => c.value === value)) return;
    try {
      candidates.push({ source, value, endpoint: parseDockerHost(value) });
    } catch (error) {
      candidates.push({ source, value, endpoint: undefined, problem: (error as Error).message });
    }
  };
  if (options.socketPath !== undefined && options.socketPath !== "") {
    add("option", options.socketPath);
    return candidates;
  }
  const dockerHost = env("DOCKER_HOST");
  if (dockerHost !== undefined && dockerHost !== "") {
    add("DOCKER_HOST", dockerHost);
    return candidates;
  }
  const runtimeDir = env("XDG_RUNTIME_DIR");
  if (runtimeDir !== undefined && runtimeDir.startsWith("/")) {
    add("XDG_RUNTIME_DIR", `${runtimeDir.replace(/\/+$/, "")}/docker.sock`);
  }
  add("default", DEFAULT_DOCKER_SOCKET);
  return candidates;
}

/** Options for {@linkcode discoverDockerEndpoint}. */
export interface DiscoverDockerEndpointOptions<T> extends DockerEndpointCandidatesOptions {
  /**
   * Tries one endpoint: resolves when it works, throws (a `Deno.errors.NotFound`,
   * `PermissionDenied`, `ConnectionRefused` or other error) when it does not.
   * The client passes a function that opens a connection and keeps it.
   */
  probe: (endpoint: DockerEndpoint) => Promise<T>;
}

/** The endpoint discovery settled on. */
export interface DiscoveredDockerEndpoint<T> {
  /** The first endpoint whose probe succeeded. */
  endpoint: DockerEndpoint;
  /** What the probe resolved to. */
  probed: T;
}

/**
 * Tries each candidate endpoint (see {@linkcode dockerEndpointCandidates})
 * in order and settles on the first whose probe succeeds.
 *
 * @typeParam T What the probe resolves to.
 * @param options The candidates' sources and the probe.
 * @returns The endpoint and its probe's result.
 * @throws {DockerConnectionError} Naming every endpoint tried and why it failed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { discoverDockerEndpoint } from "@flame/docker/docker";
 *
 * const found = await discoverDockerEndpoint({
 *   env: () => undefined,
 *   probe: (endpoint) => Promise.resolve(endpoint.transport),
 * });
 * assert.equal(found.probed, "unix");
 * ```
 */
export async function discoverDockerEndpoint<T>(
  options: DiscoverDockerEndpointOptions<T>,
): Promise<DiscoveredDockerEndpoint<T>> {
  const attempts: DockerConnectionAttempt[] = [];
  let lastError: unknown;
  for (const candidate of dockerEndpointCandidates(options)) {
    if (candidate.endpoint === undefined) {
      attempts.push({ endpoint: candidate.value, reason: candidate.problem ?? "unusable" });
      continue;
    }
    try {
      return { endpoint: candidate.endpoint, probed: await options.probe(candidate.endpoint) };
    } catch (error) {
      lastError = error;
      attempts.push({
        endpoint: formatDockerEndpoint(candidate.endpoint),
        reason: connectFailureReason(error),
      });
    }
  }
  throw connectionError(attempts, lastError);
}

/**
 * Names why a connection attempt failed, in the words of the error messages.
 *
 * @param error What `Deno.connect` threw.
 * @returns `"missing"`, `"permission denied"`, `"refused"` or the error's message.
 */
export function connectFailureReason(error: unknown): string {
  const kind = socketErrorKind(error);
  if (kind === "missing") return "missing";
  if (kind === "denied") return "permission denied";
  if (kind === "refused") return "refused";
  return error instanceof Error ? error.message : String(error);
}

/**
 * Builds the error for failed connection attempts.
 *
 * @param attempts Every endpoint tried and why it failed.
 * @param cause The last underlying error.
 * @returns The error to throw.
 */
export function connectionError(
  attempts: readonly DockerConnectionAttempt[],
  cause: unknown,
): DockerConnectionError {
  const tried = attempts.map((a) => `"${a.endpoint}" (${a.reason})`).join(", ");
  return new DockerConnectionError(`Cannot connect to the Docker engine: tried ${tried}`, {
    attempts,
    cause,
  });
}
