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
  /** HTTP method of the failed request. */
  method: string;
  /** Path (with query) of the failed request. */
  path: string;
}

/**
 * The engine answered a request with an error, either as an HTTP status or
 * as an error line inside a stream (image pull progress).
 *
 * Check `status` (or the `notFound`/`conflict` getters) rather than the
 * message text.
 *
 * @example Telling a missing image from other failures
 * ```ts
 * import { DockerError } from "./errors.ts";
 *
 * const err = new DockerError('Cannot inspect image "nope": No such image: nope', {
 *   status: 404,
 *   engineMessage: "No such image: nope",
 *   method: "GET",
 *   path: "/v1.41/images/nope/json",
 * });
 * console.assert(err.notFound && !err.conflict && err.status === 404);
 * ```
 */
export class DockerError extends Error {
  /** HTTP status the engine answered with. */
  readonly status: number;
  /** The engine's own message (`message` of the JSON error body). */
  readonly engineMessage: string;
  /** HTTP method of the failed request. */
  readonly method: string;
  /** Path (with query) of the failed request. */
  readonly path: string;

  /**
   * Creates an error for a failed engine request.
   *
   * @param message What failed, naming the action and its subject.
   * @param options Status, engine message and endpoint of the failed request.
   */
  constructor(message: string, options: DockerErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DockerError";
    this.status = options.status;
    this.engineMessage = options.engineMessage;
    this.method = options.method;
    this.path = options.path;
  }

  /**
   * Whether the engine answered 404 (no such image, container or network).
   *
   * @returns `true` for status 404.
   */
  get notFound(): boolean {
    return this.status === 404;
  }

  /**
   * Whether the engine answered 409 (name in use, container running, ...).
   *
   * @returns `true` for status 409.
   */
  get conflict(): boolean {
    return this.status === 409;
  }

  /**
   * Whether the engine answered 304 (nothing to do).
   *
   * @returns `true` for status 304.
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
 * @example
 * ```ts
 * import { DockerConnectionError } from "./errors.ts";
 *
 * const err = new DockerConnectionError(
 *   'Cannot connect to the Docker engine: "unix:///var/run/docker.sock" (missing)',
 *   { attempts: [{ endpoint: "unix:///var/run/docker.sock", reason: "missing" }] },
 * );
 * console.assert(err.attempts[0]?.reason === "missing");
 * ```
 */
export class DockerConnectionError extends Error {
  /** Every endpoint tried, in order, with the reason it failed. */
  readonly attempts: readonly DockerConnectionAttempt[];

  /**
   * Creates an error for failed connection attempts.
   *
   * @param message What failed.
   * @param options The endpoints tried and the underlying `cause`.
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
 * @example
 * ```ts
 * import { DockerProtocolError } from "./errors.ts";
 *
 * const err = new DockerProtocolError('Invalid status line "HTTP/9 abc"');
 * console.assert(err.name === "DockerProtocolError");
 * ```
 */
export class DockerProtocolError extends Error {
  /**
   * Creates an error for a malformed response.
   *
   * @param message What was malformed.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DockerProtocolError";
  }
}
