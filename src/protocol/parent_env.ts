/**
 * `FLAME_PARENT`: everything a runner needs to find and prove itself to its
 * parent, as base64url of JSON. Set by the backend; never user-provided.
 *
 * @module
 */

import { decodeBase64Url, encodeBase64Url } from "../util/base64url.ts";

/** The protocol version this code speaks. */
export const PROTOCOL_VERSION = 2;

/** The most call workers `FLAME_PARENT` may ask a runner for. */
export const MAX_WORKERS = 256;

/** The decoded content of `FLAME_PARENT`. */
export interface ParentEnv {
  /** Protocol version; must equal {@linkcode PROTOCOL_VERSION}. */
  v: number;
  /** Host the runner dials. */
  host: string;
  /** Port the runner dials. */
  port: number;
  /** The runner id the parent expects. */
  id: string;
  /** The per-runner secret, base64url (at least 16 bytes). */
  secret: string;
  /** Milliseconds the runner may take to connect and authenticate before it gives up. */
  connectTimeout: number;
  /** Milliseconds between heartbeats. */
  heartbeatInterval: number;
  /** Milliseconds of silence after which the peer counts as dead. */
  heartbeatTimeout: number;
  /** Milliseconds without work after which the runner exits on its own (`null`: never). */
  idleTimeout: number | null;
  /**
   * Call workers the runner starts (`0`: calls run on the link's thread);
   * absent: the runner sizes them to the CPUs it is given.
   */
  workers?: number;
}

/**
 * Encodes `FLAME_PARENT`.
 *
 * @param env The fields.
 * @returns The base64url text.
 *
 * @example
 * ```ts
 * import { decodeParentEnv, encodeParentEnv } from "./parent_env.ts";
 * const text = encodeParentEnv({
 *   v: 2, host: "127.0.0.1", port: 4000, id: "r1", secret: "c2VjcmV0c2VjcmV0c2VjcmV0",
 *   connectTimeout: 30000, heartbeatInterval: 1000, heartbeatTimeout: 5000, idleTimeout: null,
 * });
 * console.assert(decodeParentEnv(text).port === 4000);
 * ```
 */
export function encodeParentEnv(env: ParentEnv): string {
  return encodeBase64Url(JSON.stringify(env));
}

function positive(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`Invalid FLAME_PARENT: "${name}" must be a positive number`);
  }
  return value;
}

/**
 * Decodes and validates `FLAME_PARENT`.
 *
 * @param text The variable's value.
 * @returns The validated fields.
 * @throws {TypeError} Naming what is wrong: not base64url, not JSON, a wrong version or a bad field.
 *
 * @example
 * ```ts
 * import { decodeParentEnv } from "./parent_env.ts";
 * try {
 *   decodeParentEnv("not json");
 * } catch (err) {
 *   console.assert(err instanceof TypeError);
 * }
 * ```
 */
export function decodeParentEnv(text: string): ParentEnv {
  if (text.trim() === "") throw new TypeError("Invalid FLAME_PARENT: it is empty");
  let raw: unknown;
  try {
    raw = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(decodeBase64Url(text.trim())),
    );
  } catch {
    throw new TypeError("Invalid FLAME_PARENT: it is not base64url-encoded JSON");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new TypeError("Invalid FLAME_PARENT: it is not a JSON object");
  }
  const o = raw as Record<string, unknown>;
  if (o.v !== PROTOCOL_VERSION) {
    throw new TypeError(
      `Invalid FLAME_PARENT: version ${
        JSON.stringify(o.v)
      } is not supported (this runner speaks ${PROTOCOL_VERSION})`,
    );
  }
  if (typeof o.host !== "string" || o.host === "") {
    throw new TypeError('Invalid FLAME_PARENT: "host" must be a non-empty string');
  }
  if (typeof o.port !== "number" || !Number.isInteger(o.port) || o.port < 1 || o.port > 65535) {
    throw new TypeError('Invalid FLAME_PARENT: "port" must be an integer from 1 to 65535');
  }
  if (typeof o.id !== "string" || o.id === "" || o.id.length > 128) {
    throw new TypeError('Invalid FLAME_PARENT: "id" must be a string of 1 to 128 characters');
  }
  let secretBytes = 0;
  try {
    secretBytes = typeof o.secret === "string" ? decodeBase64Url(o.secret).length : 0;
  } catch {
    secretBytes = 0;
  }
  if (secretBytes < 16) {
    throw new TypeError('Invalid FLAME_PARENT: "secret" must be at least 16 base64url bytes');
  }
  const idle = o.idleTimeout;
  if (idle !== null && idle !== undefined) positive("idleTimeout", idle);
  const workers = o.workers;
  if (
    workers !== undefined &&
    (typeof workers !== "number" || !Number.isInteger(workers) || workers < 0 ||
      workers > MAX_WORKERS)
  ) {
    throw new TypeError(
      `Invalid FLAME_PARENT: "workers" must be an integer from 0 to ${MAX_WORKERS}`,
    );
  }
  return {
    v: PROTOCOL_VERSION,
    host: o.host,
    port: o.port,
    id: o.id,
    secret: o.secret as string,
    connectTimeout: positive("connectTimeout", o.connectTimeout),
    heartbeatInterval: positive("heartbeatInterval", o.heartbeatInterval),
    heartbeatTimeout: positive("heartbeatTimeout", o.heartbeatTimeout),
    idleTimeout: (idle ?? null) as number | null,
    ...(workers === undefined ? {} : { workers: workers as number }),
  };
}
