/**
 * A small Docker Engine API client over the engine's unix (or tcp) socket,
 * with its own HTTP/1.1 framer: keep-alive connection reuse, streaming bodies
 * (JSON-lines pull progress, demultiplexed logs), API version negotiation,
 * `AbortSignal` and timeouts on every call, and typed errors.
 *
 * The engine is found on first use, as the `docker` CLI finds it: the
 * `socketPath` (or `endpoint`) option, else `DOCKER_HOST` (`unix://`,
 * `tcp://` with `DOCKER_TLS_VERIFY`, `ssh://`), else `DOCKER_CONTEXT`, else
 * the current context of `~/.docker/config.json`, else
 * `/var/run/docker.sock`; only when that is missing, the rootless, Docker
 * Desktop, Colima, OrbStack, Rancher Desktop and Podman sockets. A
 * configured choice that fails is an error, never a fallback;
 * `DockerClient.endpointChoice` says what was chosen and why.
 *
 * @example Pulling an image only when it is missing
 * ```ts
 * import { DockerClient, DockerError } from "@flame/docker/docker";
 *
 * // Needs a running engine (and a registry when the image is missing).
 * export async function ensureImage(image: string): Promise<void> {
 *   await using docker = new DockerClient();
 *   try {
 *     await docker.imageInspect(image);
 *   } catch (error) {
 *     if (!(error instanceof DockerError && error.notFound)) throw error;
 *     for await (const progress of docker.imagePull(image)) console.log(progress.status);
 *   }
 * }
 * ```
 *
 * @module
 */

export {
  DockerClient,
  type DockerClientOptions,
  MAX_API_VERSION,
  MIN_API_VERSION,
} from "./client.ts";
export {
  type DockerConnectionAttempt,
  DockerConnectionError,
  type DockerConnectionErrorOptions,
  DockerError,
  type DockerErrorOptions,
  DockerProtocolError,
} from "./errors.ts";
export { type CollectedLogs, collectLogs, type LogChunk } from "./log_demux.ts";
export type { ConnectionPoolStats } from "./connection_pool.ts";
export {
  DEFAULT_DOCKER_SOCKET,
  discoverDockerEndpoint,
  type DiscoverDockerEndpointOptions,
  type DiscoveredDockerEndpoint,
  type DockerEndpoint,
  type DockerEndpointCandidate,
  dockerEndpointCandidates,
  type DockerEndpointCandidatesOptions,
  type DockerEndpointChoice,
  type DockerEndpointSource,
  type DockerTlsOptions,
  formatDockerEndpoint,
  parseDockerHost,
  type ParseDockerHostOptions,
} from "./endpoint.ts";
export type {
  ContainerCreateBody,
  ContainerCreateOptions,
  ContainerCreateResult,
  ContainerInspect,
  ContainerKillOptions,
  ContainerListFilters,
  ContainerListOptions,
  ContainerLogsOptions,
  ContainerRemoveOptions,
  ContainerState,
  ContainerStopOptions,
  ContainerSummary,
  ContainerWaitOptions,
  ContainerWaitResult,
  DockerCallOptions,
  DockerEvent,
  DockerPing,
  DockerVersion,
  EndpointSettings,
  EventsOptions,
  HostConfig,
  ImageInspect,
  ImagePullOptions,
  ImagePullProgress,
  Mount,
  NetworkContainer,
  NetworkInspect,
  RegistryAuth,
  RestartPolicy,
  SystemInfo,
} from "./types.ts";
