/**
 * flame-docker: the FLAME pattern for TypeScript. A {@linkcode Pool} runs
 * functions on short-lived runners that a backend boots — Docker containers,
 * local processes, or in-process — which connect back over an authenticated
 * socket, do the work, and go away when idle or when the parent dies.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalBackend, Pool } from "@flame/docker";
 *
 * await using pool = new Pool({ backend: new LocalBackend(), max: 2 });
 * const n = await pool.call((a: number, b: number) => a + b, [1, 2]);
 * assert.equal(n, 3);
 * ```
 *
 * @module
 */

export {
  type CallOptions,
  type ChildHandle,
  functionSource,
  type GrowEndEvent,
  type GrowStartEvent,
  Pool,
  type PoolOptions,
  type PoolStats,
  type Remote,
  type RemoteCall,
  type RemoteMethod,
  type RemoteModule,
  type ShippableFunction,
  type ShrinkEvent,
} from "./src/pool.ts";
export {
  BootError,
  PoolClosedError,
  RemoteError,
  RunnerExitedError,
  TimeoutError,
} from "./src/errors.ts";
export { DataCloneError } from "./src/protocol/codec.ts";
export { ProtocolError } from "./src/protocol/errors.ts";
export type { WireError } from "./src/protocol/messages.ts";
export { DockerConnectionError, DockerError, DockerProtocolError } from "./src/docker/errors.ts";
export { DockerClient, type DockerClientOptions } from "./src/docker/client.ts";
export type { Backend, BootSpec, ParentAddress, RunnerHandle } from "./src/backends/backend.ts";
export { LocalBackend } from "./src/backends/local.ts";
export {
  DEFAULT_RUNNER_ENV,
  DockerBackend,
  type DockerBackendOptions,
  LABEL_PARENT,
  LABEL_PARENT_CONTAINER,
  LABEL_PARENT_PROCESS,
  LABEL_POOL,
  LABEL_PROJECT,
} from "./src/backends/docker.ts";
export { ProcessBackend, type ProcessBackendOptions } from "./src/backends/process.ts";
export type { CallContext } from "./src/runner/context.ts";
export type {
  FlameAttributes,
  FlameEvent,
  FlameEventListener,
  FlameEventName,
} from "./src/events.ts";
export { consoleLogger, type Logger, type LogLevel } from "./src/util/logger.ts";
