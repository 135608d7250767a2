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

export { type ChildHandle, Pool, type PoolStats } from "./src/parent/pool.ts";
export type { CallOptions, PoolOptions } from "./src/parent/options.ts";
export type {
  GrowEndEvent,
  GrowStartEvent,
  ShrinkEvent,
  ShrinkReason,
} from "./src/parent/emitter.ts";
export type {
  CallResult,
  Remote,
  RemoteCall,
  RemoteMethod,
  RemoteModule,
  ShippableFunction,
  ShippableResult,
} from "./src/parent/shipping.ts";
export {
  AbortError,
  BootError,
  CodeSyncError,
  PayloadTooLargeError,
  type PayloadTooLargeErrorOptions,
  PoolClosedError,
  RemoteError,
  RunnerExitedError,
  TimeoutError,
} from "./src/errors.ts";
export { DataCloneError } from "./src/protocol/codec.ts";
export { ProtocolError } from "./src/protocol/errors.ts";
export type { WireError } from "./src/protocol/messages.ts";
export type { CallContext } from "./src/protocol/call_context.ts";
export type { Backend, BootSpec, ParentAddress, RunnerHandle } from "./src/backends/backend.ts";
export { LocalBackend } from "./src/backends/local.ts";
export { DockerBackend } from "./src/backends/docker/docker_backend.ts";
export type { DockerBackendOptions } from "./src/backends/docker/options.ts";
export { DEFAULT_RUNNER_ENV } from "./src/backends/docker/boot.ts";
export {
  LABEL_PARENT,
  LABEL_PARENT_CONTAINER,
  LABEL_PARENT_PROCESS,
  LABEL_POOL,
  LABEL_PROJECT,
  LABEL_RUNNER,
} from "./src/backends/docker/labels.ts";
export { ProcessBackend, type ProcessBackendOptions } from "./src/backends/process.ts";
export type {
  FlameAttributes,
  FlameEvent,
  FlameEventListener,
  FlameEventName,
} from "./src/events.ts";
export { consoleLogger, type Logger, type LogLevel } from "./src/util/logger.ts";
export {
  type HeadroomOptions,
  headroomPolicy,
  type RetryableErrorName,
  type RetryOptions,
  type ScalingPolicy,
  type ScalingState,
} from "./src/parent/scaling.ts";
export { type Closable, closeOnSignals, type CloseOnSignalsOptions } from "./src/parent/signals.ts";
