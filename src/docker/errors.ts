/**
 * Errors thrown by the Docker Engine API client.
 *
 * @module
 */

/** Options for {@linkcode DockerError}. */
export interface DockerErrorOptions extends ErrorOptions {
  /** HTTP status the engine answered with (for errors reported inside a stream, the stream's own status). */
  status: number;
  /** The engine's own message, from the `message` field of the JSON error body. */
  engineMessage: string;
  /**
   * The engine's error class, from the `cause` field of the JSON error body:
   * Podman sends one (`"no such container"`, `"that name is already in use"`,
   * …); Docker does not.
   */
  engineCause?: string;
  /** HTTP method of the failed request. */
  method: string;
  /** Path (with query) of the failed request. */
  path: string;
}

/**
 * Podman's error causes (its `define` errors, sent as the body's `cause`)
 * that mean what Docker says with 404.
 */
const PODMAN_NOT_FOUND: ReadonlySet<string> = new Set([
  "no such container",
  "no such image",
  "no such network",
  "no such volume",
  "no such pod",
  "no such exec session",
  "no such secret",
  "container has already been removed",
]);

/** Podman's error causes that mean what Docker says with 409. */
const PODMAN_CONFLICT: ReadonlySet<string> = new Set([
  "that name is already in use",
  "container already exists",
  "pod already exists",
  "network already exists",
  "volume already exists",
  "container state improper",
  "container is running",
  "volume is being used",
]);

/**
 * The engine answered a request with an error, either as an HTTP status or
 * as an error line inside a stream (image pull progress).
 *
 * Check the `notFound`/`conflict` getters rather than the message text:
 * they also read Podman's answers, which give some of these cases status 500
 * and say which in the body's `cause`.
 *
 * @example Telling a missing image from other failures
 * ```ts
 * import assert from "node:assert/strict";
 * import { DockerError } from "@flame/docker/docker";
 *
 * const err = new DockerError('Cannot inspect image "nope": No such image: nope', {
 *   status: 404,
 *   engineMessage: "No such image: nope",
 *   method: "GET",
 *   path: "/v1.41/images/nope/json",
 * });
 * assert.ok(err.notFound && !err.conflict);
 * assert.equal(err.status, 404);
 * ```
 */
export class DockerError extends Error {
  /**
   * HTTP status the engine answered with.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerError } from "@flame/docker/docker";
   *
   * const err = new DockerError('Cannot start container "web": Conflict', {
   *   status: 409,
   *   engineMessage: "Conflict",
   *   method: "POST",
   *   path: "/v1.41/containers/web/start",
   * });
   * assert.equal(err.status, 409);
   * ```
   */
  readonly status: number;
  /**
   * The engine's own message (`message` of the JSON error body).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerError } from "@flame/docker/docker";
   *
   * const err = new DockerError('Cannot start container "web": Conflict', {
   *   status: 409,
   *   engineMessage: "Conflict",
   *   method: "POST",
   *   path: "/v1.41/containers/web/start",
   * });
   * assert.equal(err.engineMessage, "Conflict");
   * ```
   */
  readonly engineMessage: string;
  /**
   * HTTP method of the failed request.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerError } from "@flame/docker/docker";
   *
   * const err = new DockerError('Cannot start container "web": Conflict', {
   *   status: 409,
   *   engineMessage: "Conflict",
   *   method: "POST",
   *   path: "/v1.41/containers/web/start",
   * });
   * assert.equal(err.method, "POST");
   * ```
   */
  readonly method: string;
  /**
   * Path (with query) of the failed request.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerError } from "@flame/docker/docker";
   *
   * const err = new DockerError('Cannot start container "web": Conflict', {
   *   status: 409,
   *   engineMessage: "Conflict",
   *   method: "POST",
   *   path: "/v1.41/containers/web/start",
   * });
   * assert.equal(err.path, "/v1.41/containers/web/start");
   * ```
   */
  readonly path: string;
  /**
   * The engine's error class (`cause` of the JSON error body), when it sends
   * one: Podman does (`"no such container"`, `"container state improper"`, …),
   * Docker does not.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerError } from "@flame/docker/docker";
   *
   * // Podman answers a name conflict with 500 and says what it is in `cause`.
   * const err = new DockerError('Cannot create container "web": that name is already in use', {
   *   status: 500,
   *   engineMessage: 'the container name "web" is already in use',
   *   engineCause: "that name is already in use",
   *   method: "POST",
   *   path: "/v1.41/containers/create?name=web",
   * });
   * assert.equal(err.engineCause, "that name is already in use");
   * assert.ok(err.conflict);
   * ```
   */
  readonly engineCause: string | undefined;

  /**
   * Creates an error for a failed engine request.
   *
   * @param message What failed, naming the action and its subject.
   * @param options Status, engine message and endpoint of the failed request.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerError } from "@flame/docker/docker";
   *
   * const err = new DockerError('Cannot remove container "web": No such container: web', {
   *   status: 404,
   *   engineMessage: "No such container: web",
   *   method: "DELETE",
   *   path: "/v1.41/containers/web?force=true",
   * });
   * assert.equal(err.name, "DockerError");
   * assert.ok(err.notFound);
   * ```
   */
  constructor(message: string, options: DockerErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DockerError";
    this.status = options.status;
    this.engineMessage = options.engineMessage;
    this.engineCause = options.engineCause;
    this.method = options.method;
    this.path = options.path;
  }

  /**
   * Whether the engine answered 404 (no such image, container or network),
   * or Podman's 500 with a "no such …" cause (an inspect during auto-removal).
   *
   * @returns `true` for status 404 and its Podman equivalents.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerClient, DockerError } from "@flame/docker/docker";
   *
   * // Needs a running engine: removing a container that may already be gone.
   * export async function removeIfPresent(docker: DockerClient, id: string): Promise<void> {
   *   try {
   *     await docker.containerRemove(id, { force: true });
   *   } catch (error) {
   *     if (!(error instanceof DockerError && error.notFound)) throw error;
   *   }
   * }
   *
   * const err = new DockerError("No such container: web", {
   *   status: 404,
   *   engineMessage: "No such container: web",
   *   method: "DELETE",
   *   path: "/v1.41/containers/web",
   * });
   * assert.ok(err.notFound);
   * ```
   */
  get notFound(): boolean {
    return this.status === 404 || (this.engineCause !== undefined &&
      PODMAN_NOT_FOUND.has(this.engineCause));
  }

  /**
   * Whether the engine answered 409 (name in use, container running or not
   * running, ...), or Podman's 500 with the same meaning in its cause.
   *
   * @returns `true` for status 409 and its Podman equivalents.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerError } from "@flame/docker/docker";
   *
   * const err = new DockerError('Cannot start container "web": Conflict', {
   *   status: 409,
   *   engineMessage: "Conflict",
   *   method: "POST",
   *   path: "/v1.41/containers/web/start",
   * });
   * assert.ok(err.conflict);
   * ```
   */
  get conflict(): boolean {
    return this.status === 409 || (this.engineCause !== undefined &&
      PODMAN_CONFLICT.has(this.engineCause));
  }

  /**
   * Whether the engine answered 304 (nothing to do).
   *
   * @returns `true` for status 304.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerError } from "@flame/docker/docker";
   *
   * const err = new DockerError('Cannot stop container "web": already stopped', {
   *   status: 304,
   *   engineMessage: "",
   *   method: "POST",
   *   path: "/v1.41/containers/web/stop",
   * });
   * assert.ok(err.notModified);
   * ```
   */
  get notModified(): boolean {
    return this.status === 304;
  }
}

/** One endpoint tried while connecting, and why it did not work. */
export interface DockerConnectionAttempt {
  /** The endpoint, as `unix:///path` or `tcp://host:port`. */
  endpoint: string;
  /** Why it failed: `"missing"`, `"permission denied"`, `"refused"` or the system's message. */
  reason: string;
}

/** Options for {@linkcode DockerConnectionError}. */
export interface DockerConnectionErrorOptions extends ErrorOptions {
  /** Every endpoint tried, in order, with the reason it failed. */
  attempts: readonly DockerConnectionAttempt[];
}

/**
 * No connection to the Docker engine could be made or kept.
 *
 * `attempts` names every socket tried and why it failed (missing,
 * permission denied, refused).
 *
 * @example No engine behind the socket
 * ```ts
 * import assert from "node:assert/strict";
 * import { DockerClient, DockerConnectionError } from "@flame/docker/docker";
 *
 * await using docker = new DockerClient({ socketPath: "/nonexistent/docker.sock" });
 * await assert.rejects(docker.ping(), DockerConnectionError);
 * ```
 */
export class DockerConnectionError extends Error {
  /**
   * Every endpoint tried, in order, with the reason it failed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerClient, DockerConnectionError } from "@flame/docker/docker";
   *
   * await using docker = new DockerClient({ socketPath: "/nonexistent/docker.sock" });
   * const err = await docker.ping().catch((e) => e);
   * assert.ok(err instanceof DockerConnectionError);
   * assert.deepEqual(err.attempts, [
   *   { endpoint: "unix:///nonexistent/docker.sock", reason: "missing" },
   * ]);
   * ```
   */
  readonly attempts: readonly DockerConnectionAttempt[];

  /**
   * Creates an error for failed connection attempts.
   *
   * @param message What failed.
   * @param options The endpoints tried and the underlying `cause`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerConnectionError } from "@flame/docker/docker";
   *
   * const err = new DockerConnectionError(
   *   'Cannot connect to the Docker engine: "unix:///var/run/docker.sock" (missing)',
   *   { attempts: [{ endpoint: "unix:///var/run/docker.sock", reason: "missing" }] },
   * );
   * assert.equal(err.attempts[0]?.reason, "missing");
   * ```
   */
  constructor(message: string, options: DockerConnectionErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DockerConnectionError";
    this.attempts = options.attempts;
  }
}

/**
 * The engine (or something posing as it) sent a response that is not valid
 * HTTP/1.1 or not the expected stream format: a bad status line, an invalid
 * chunk size, oversize headers, a truncated body, a malformed JSON line.
 *
 * @example A response that is not HTTP
 * ```ts
 * import assert from "node:assert/strict";
 * import { DockerProtocolError } from "@flame/docker/docker";
 * import { ResponseParser } from "./http_response.ts";
 *
 * const parser = new ResponseParser();
 * const garbage = new TextEncoder().encode("SSH-2.0-OpenSSH_9.6\r\n\r\n");
 * assert.throws(() => parser.push(garbage), DockerProtocolError);
 * ```
 */
export class DockerProtocolError extends Error {
  /**
   * Creates an error for a malformed response.
   *
   * @param message What was malformed.
   * @param options Standard error options (`cause`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { DockerProtocolError } from "@flame/docker/docker";
   *
   * const err = new DockerProtocolError('Invalid status line "HTTP/9 abc"');
   * assert.equal(err.name, "DockerProtocolError");
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DockerProtocolError";
  }
}
