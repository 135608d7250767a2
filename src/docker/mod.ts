/**
 * A small Docker Engine API client over the engine's unix (or tcp) socket,
 * with its own HTTP/1.1 framer: keep-alive connection reuse, streaming bodies
 * (JSON-lines pull progress, demultiplexed logs), API version negotiation,
 * `AbortSignal` and timeouts on every call, and typed errors.
 *
 * The socket is found on first use: the `socketPath` option if given, else
 * `DOCKER_HOST` (`unix://` or `tcp://`) if set, else the first of
 * `$XDG_RUNTIME_DIR/docker.sock` (rootless) and `/var/run/docker.sock` that
 * answers.
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
  type DockerEndpointSource,
  formatDockerEndpoint,
  parseDockerHost,
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
  DockerPing,
  DockerVersion,
  EndpointSettings,
  HostConfig,
  ImageInspect,
  ImagePullOptions,
  ImagePullProgress,
  Mount,
  NetworkContainer,
  NetworkInspect,
  RegistryAuth,
  RestartPolicy,
} from "./types.ts";
