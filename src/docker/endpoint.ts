/**
 * Finding the Docker engine's endpoint as the `docker` CLI does, then the
 * sockets of laptop and rootless setups. In order:
 *
 * 1. the `socketPath` (or `endpoint`) option;
 * 2. `DOCKER_HOST`: `unix:///path`, `tcp://host[:port]`,
 *    `ssh://[user@]host[:port]` or a bare path; TLS for `tcp://` from
 *    `DOCKER_TLS_VERIFY` / `DOCKER_TLS` with the PEM files `ca.pem`,
 *    `cert.pem`, `key.pem` of `DOCKER_CERT_PATH` (default `~/.docker`);
 * 3. the context named by `DOCKER_CONTEXT`;
 * 4. the current context in `$DOCKER_CONFIG/config.json` (`currentContext`;
 *    `DOCKER_CONFIG` defaults to `~/.docker`). A context's endpoint is
 *    `Endpoints.docker.Host` of `contexts/meta/<sha256 of its name>/meta.json`,
 *    its TLS files those in `contexts/tls/<sha256>/docker/`; the context
 *    `"default"` means "none": discovery goes on with 5;
 * 5. `/var/run/docker.sock`;
 * 6. only when that is missing: `$XDG_RUNTIME_DIR/docker.sock` (rootless
 *    Docker), `~/.docker/run/docker.sock` and `~/.docker/desktop/docker.sock`
 *    (Docker Desktop), `~/.colima/default/docker.sock`,
 *    `~/.orbstack/run/docker.sock`, `~/.rd/docker.sock` (Rancher Desktop),
 *    `$XDG_RUNTIME_DIR/podman/podman.sock` and `/run/podman/podman.sock`;
 *    the first that answers.
 *
 * The first of 1–4 that is set is the only candidate: when it fails (socket
 * missing or refused, unknown context, malformed `meta.json`, missing TLS
 * files) discovery fails with a {@linkcode DockerConnectionError} naming the
 * choice, where it came from, why it failed and how to fix it, and never
 * drives another engine. So does a `/var/run/docker.sock` that exists but
 * refuses or is not permitted: only a missing one leads on to 6.
 *
 * TLS: `DOCKER_TLS_VERIFY` set to anything non-empty turns TLS on with
 * verification (as the CLI, `ca.pem` must exist); `DOCKER_TLS` turns TLS on
 * too, but unlike the CLI (which then skips verification) this client still
 * verifies, against `ca.pem` if present, else the system's roots. It skips
 * verification only when asked explicitly: a context with `SkipTLSVerify`
 * (`docker context create --docker skip-tls-verify=true`), or an `endpoint`
 * option whose `tls.verify` is `false`. As with the CLI's `-H`, the TLS
 * variables also apply to a `tcp://` given with `socketPath`.
 *
 * The file is long for its documentation (this reference, every field of the
 * endpoint and candidate types); what each source reads from disk, the
 * fallback sockets and the fix suggested for each failure are in
 * `_endpoint_sources.ts`.
 *
 * @module
 */

import { env as runtimeEnv, readTextFileSync } from "../runtime.ts";
import { socketErrorKind } from "../transport.ts";
import {
  absoluteDir,
  connectFix,
  EndpointProblem,
  endpointShapeProblem,
  environmentTls,
  fallbackSockets,
  readContextEndpoint,
  readCurrentContext,
  type ReadTextFile,
} from "./_endpoint_sources.ts";
import { type DockerConnectionAttempt, DockerConnectionError } from "./errors.ts";

/** TLS settings of a `tcp://` endpoint (PEM text, already read from the files). */
export interface DockerTlsOptions {
  /**
   * Verify the engine's certificate (against `ca`, else the system roots) and host name.
   *
   * @default {true}
   */
  verify: boolean;
  /** The CA certificate(s) the engine's certificate must chain to (`ca.pem`). */
  ca?: string;
  /** The client certificate for mutual TLS (`cert.pem`). */
  cert?: string;
  /** The client certificate's private key (`key.pem`). */
  key?: string;
  /** Where the material came from (a directory), for error messages. */
  source?: string;
}

/** Where the engine listens: a unix socket, a TCP address (plain or TLS), or a host reached over SSH. */
export type DockerEndpoint =
  | {
    /** A unix domain socket. */
    transport: "unix";
    /** Its path. */
    path: string;
  }
  | {
    /** A TCP socket, plain or with TLS. */
    transport: "tcp";
    /** Host name or address. */
    hostname: string;
    /** Port. */
    port: number;
    /** TLS settings; absent for plain TCP. */
    tls?: DockerTlsOptions;
  }
  | {
    /** `ssh://[user@]host[:port]`: `ssh … docker system dial-stdio` carries the bytes. */
    transport: "ssh";
    /** The user to log in as (else ssh's default). */
    user?: string;
    /** Host name or address. */
    hostname: string;
    /** Port (else ssh's default, 22). */
    port?: number;
    /** Extra `ssh` arguments (such as `-i key`, `-o` options), before the host. */
    sshArgs?: string[];
  };

/**
 * Where a candidate endpoint came from: `"option"` (the `socketPath` or
 * `endpoint` option), `"DOCKER_HOST"`, `"DOCKER_CONTEXT"` (the context it
 * names), `"context"` (the current context in `config.json`), `"default"`
 * (`/var/run/docker.sock`), then the fallbacks tried when that is missing:
 * `"XDG_RUNTIME_DIR"` (rootless Docker), `"docker-desktop"`, `"colima"`,
 * `"orbstack"`, `"rancher-desktop"`, `"podman"` (rootless or rootful).
 */
export type DockerEndpointSource =
  | "option"
  | "DOCKER_HOST"
  | "DOCKER_CONTEXT"
  | "context"
  | "default"
  | "XDG_RUNTIME_DIR"
  | "docker-desktop"
  | "colima"
  | "orbstack"
  | "rancher-desktop"
  | "podman";

/** One endpoint to try, in discovery order. */
export interface DockerEndpointCandidate {
  /** Where it came from. */
  source: DockerEndpointSource;
  /** In words, for messages: such as `context "prod" (DOCKER_CONTEXT)` or `Colima`. */
  origin: string;
  /** The context's name, for `"DOCKER_CONTEXT"` and `"context"`. */
  context?: string;
  /**
   * The text it was given as: a path or URL (a context's `Endpoints.docker.Host`);
   * for a context that cannot be read, its name.
   */
  value: string;
  /** The parsed endpoint, or `undefined` when `value` is not usable. */
  endpoint: DockerEndpoint | undefined;
  /** Why it is not usable, when `endpoint` is `undefined`. */
  problem?: string;
  /** How to fix that, when `endpoint` is `undefined`. */
  fix?: string;
}

/** Options for {@linkcode dockerEndpointCandidates}. */
export interface DockerEndpointCandidatesOptions {
  /**
   * An explicit socket path or `unix://` / `tcp://` / `ssh://` URL; when set, the only candidate.
   *
   * @default {undefined}
   */
  socketPath?: string;
  /**
   * An explicit endpoint (with TLS material or ssh arguments); when set, the
   * only candidate. Give this or `socketPath`, not both.
   *
   * @default {undefined}
   */
  endpoint?: DockerEndpoint;
  /**
   * Reads an environment variable (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`,
   * `DOCKER_TLS`, `DOCKER_CERT_PATH`, `DOCKER_CONTEXT`, `DOCKER_CONFIG`,
   * `HOME`, `XDG_RUNTIME_DIR`).
   *
   * @default {(name) => Deno.env.get(name)}
   */
  env?: (name: string) => string | undefined;
  /**
   * Reads a text file (`config.json`, `meta.json`, PEM files): its text,
   * `undefined` when it does not exist; throws when it cannot be read.
   *
   * @default {(path) => Deno.readTextFileSync(path)} (`undefined` when missing)
   */
  readTextFile?: (path: string) => string | undefined;
  /**
   * The home directory (for `~/.docker` and the laptop sockets).
   *
   * @default {env("HOME")}
   */
  home?: string;
}

/**
 * The socket tried after the configured choices, before the fallbacks.
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

/** Options for {@linkcode parseDockerHost}. */
export interface ParseDockerHostOptions {
  /**
   * TLS settings for a `tcp://` host (ignored for the others); with them
   * the port defaults to 2376 instead of 2375.
   *
   * @default {undefined} plain TCP
   */
  tls?: DockerTlsOptions;
}

/**
 * Parses a `DOCKER_HOST`-style value: `unix:///path`, a bare absolute path,
 * `tcp://host[:port]` (port 2376 with TLS, else 2375) or
 * `ssh://[user@]host[:port]`.
 *
 * @param value The text to parse.
 * @param options TLS settings for a `tcp://` host.
 * @returns The endpoint.
 * @throws {TypeError} For another scheme (such as `npipe://`) or a malformed value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDockerHost } from "@flame/docker/docker";
 *
 * const endpoint = parseDockerHost("tcp://127.0.0.1:2375");
 * assert.ok(endpoint.transport === "tcp" && endpoint.port === 2375);
 * assert.deepEqual(parseDockerHost("ssh://me@build-1"), {
 *   transport: "ssh",
 *   user: "me",
 *   hostname: "build-1",
 * });
 * ```
 */
export function parseDockerHost(
  value: string,
  options: ParseDockerHostOptions = {},
): DockerEndpoint {
  if (value.startsWith("/")) return { transport: "unix", path: value };
  if (value.startsWith("unix://")) {
    const path = value.slice("unix://".length);
    if (!path.startsWith("/")) {
      throw new TypeError(`Cannot use Docker host "${value}": the socket path must be absolute`);
    }
    return { transport: "unix", path };
  }
  if (value.startsWith("tcp://")) {
    const match = /^tcp:\/\/(\[[0-9A-Fa-f:.]+\]|[^:/\[\]@]+)(?::([0-9]{1,5}))?\/?$/.exec(value);
    const port = match?.[2] === undefined
      ? (options.tls === undefined ? 2375 : 2376)
      : Number(match[2]);
    if (match === null || port < 1 || port > 65535) {
      throw new TypeError(`Cannot use Docker host "${value}": expected tcp://host:port`);
    }
    const hostname = match[1]!.replace(/^\[|\]$/g, "");
    return options.tls === undefined
      ? { transport: "tcp", hostname, port }
      : { transport: "tcp", hostname, port, tls: options.tls };
  }
  if (value.startsWith("ssh://")) return parseSsh(value);
  throw new TypeError(
    `Cannot use Docker host "${value}": only unix://, tcp:// and ssh:// are supported`,
  );
}

function parseSsh(value: string): DockerEndpoint {
  if (/^ssh:\/\/[^@/]*:[^@/]*@/.test(value)) {
    throw new TypeError(
      `Cannot use Docker host "${value}": a password in the URL is not supported; use an ssh key or agent`,
    );
  }
  const match =
    /^ssh:\/\/(?:([^@/:\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[^:/@\[\]\s]+)(?::([0-9]{1,5}))?(\/.*)?$/
      .exec(value);
  if (match === null) {
    throw new TypeError(`Cannot use Docker host "${value}": expected ssh://[user@]host[:port]`);
  }
  const [, user, host, portText, path] = match;
  if (path !== undefined && path !== "/") {
    throw new TypeError(
      `Cannot use Docker host "${value}": a path after the host is not supported (the remote engine's default socket is used)`,
    );
  }
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (port < 1 || port > 65535)) {
    throw new TypeError(`Cannot use Docker host "${value}": port out of range`);
  }
  return {
    transport: "ssh",
    ...(user === undefined ? {} : { user }),
    hostname: host!.replace(/^\[|\]$/g, ""),
    ...(port === undefined ? {} : { port }),
  };
}

/**
 * Formats an endpoint for messages: `unix:///path`, `tcp://host:port`
 * (with ` (TLS)` or ` (TLS, unverified)`) or `ssh://user@host:port`. Never
 * shows key material or ssh arguments.
 *
 * @param endpoint The endpoint.
 * @returns Its URL form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDockerEndpoint } from "@flame/docker/docker";
 *
 * assert.equal(
 *   formatDockerEndpoint({ transport: "unix", path: "/var/run/docker.sock" }),
 *   "unix:///var/run/docker.sock",
 * );
 * assert.equal(
 *   formatDockerEndpoint({ transport: "tcp", hostname: "h", port: 2376, tls: { verify: true } }),
 *   "tcp://h:2376 (TLS)",
 * );
 * ```
 */
export function formatDockerEndpoint(endpoint: DockerEndpoint): string {
  if (endpoint.transport === "unix") return `unix://${endpoint.path}`;
  const host = endpoint.hostname.includes(":") ? `[${endpoint.hostname}]` : endpoint.hostname;
  if (endpoint.transport === "ssh") {
    const user = endpoint.user === undefined ? "" : `${endpoint.user}@`;
    return `ssh://${user}${host}${endpoint.port === undefined ? "" : `:${endpoint.port}`}`;
  }
  const tls = endpoint.tls === undefined
    ? ""
    : endpoint.tls.verify
    ? " (TLS)"
    : " (TLS, unverified)";
  return `tcp://${host}:${endpoint.port}${tls}`;
}

/**
 * Lists the endpoints to try, in the order of the module doc. The first
 * configured choice (option, `DOCKER_HOST`, `DOCKER_CONTEXT`, the current
 * context) is the only candidate, unusable ones included (with `problem`
 * and `fix`), so the error can name it. Otherwise the list is
 * `/var/run/docker.sock` then the fallbacks. Pure and synchronous: it reads
 * only the injected environment and files.
 *
 * @param options The explicit option, and the environment and file readers.
 * @returns The candidates, without duplicates.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dockerEndpointCandidates } from "@flame/docker/docker";
 *
 * const env: Record<string, string> = { XDG_RUNTIME_DIR: "/run/user/1000", HOME: "/home/me" };
 * const candidates = dockerEndpointCandidates({
 *   env: (name) => env[name],
 *   readTextFile: () => undefined, // no ~/.docker/config.json
 * });
 * assert.deepEqual(candidates.slice(0, 3).map((c) => `${c.source} ${c.value}`), [
 *   "default /var/run/docker.sock",
 *   "XDG_RUNTIME_DIR /run/user/1000/docker.sock",
 *   "docker-desktop /home/me/.docker/run/docker.sock",
 * ]);
 * ```
 */
export function dockerEndpointCandidates(
  options: DockerEndpointCandidatesOptions = {},
): DockerEndpointCandidate[] {
  const env = options.env ?? runtimeEnv;
  const read: ReadTextFile = options.readTextFile ?? readTextFileSync;
  const setEnv = (name: string) => {
    const value = env(name);
    return value === undefined || value === "" ? undefined : value;
  };
  if (options.endpoint !== undefined) return [endpointOption(options)];
  const home = absoluteDir(options.home ?? setEnv("HOME"));
  if (options.socketPath !== undefined && options.socketPath !== "") {
    return [
      hostCandidate("option", "the socketPath option", options.socketPath, setEnv, read, home),
    ];
  }
  const dockerHost = setEnv("DOCKER_HOST");
  if (dockerHost !== undefined) {
    return [hostCandidate("DOCKER_HOST", "DOCKER_HOST", dockerHost, setEnv, read, home)];
  }
  const configDir = setEnv("DOCKER_CONFIG")?.replace(/(.)\/+$/, "$1") ??
    (home === undefined ? undefined : `${home}/.docker`);
  const named = setEnv("DOCKER_CONTEXT");
  if (named !== undefined && named !== "default") {
    return [contextCandidate("DOCKER_CONTEXT", named, configDir, read)];
  }
  if (named === undefined && configDir !== undefined) {
    let current: string | undefined;
    try {
      current = readCurrentContext(read, configDir);
    } catch (error) {
      return [unusable("context", "the docker config", `${configDir}/config.json`, error)];
    }
    if (current !== undefined && current !== "default") {
      return [contextCandidate("context", current, configDir, read)];
    }
  }
  const candidates: DockerEndpointCandidate[] = [{
    source: "default",
    origin: "the default socket",
    value: DEFAULT_DOCKER_SOCKET,
    endpoint: { transport: "unix", path: DEFAULT_DOCKER_SOCKET },
  }];
  for (
    const [source, path, origin] of fallbackSockets(absoluteDir(setEnv("XDG_RUNTIME_DIR")), home)
  ) {
    if (candidates.some((c) => c.value === path)) continue;
    candidates.push({ source, origin, value: path, endpoint: { transport: "unix", path } });
  }
  return candidates;
}

function unusable(
  source: DockerEndpointSource,
  origin: string,
  value: string,
  error: unknown,
  extra: { context?: string; fix?: string } = {},
): DockerEndpointCandidate {
  if (!(error instanceof EndpointProblem) && !(error instanceof TypeError)) throw error;
  const fix = error instanceof EndpointProblem ? error.fix : extra.fix ?? "fix it";
  return {
    source,
    origin,
    ...(extra.context === undefined ? {} : { context: extra.context }),
    value,
    endpoint: undefined,
    problem: error.message.replace(/^Cannot use Docker host ("[^"]*"): /, "$1: "),
    fix,
  };
}

function endpointOption(options: DockerEndpointCandidatesOptions): DockerEndpointCandidate {
  const endpoint = options.endpoint!;
  const origin = "the endpoint option";
  const fix = 'pass an endpoint such as { transport: "unix", path: "/var/run/docker.sock" }';
  let problem = endpointShapeProblem(endpoint);
  if (options.socketPath !== undefined && options.socketPath !== "") {
    problem = "it is given together with socketPath";
  }
  const value = problem === undefined
    ? formatDockerEndpoint(endpoint)
    : String(JSON.stringify(endpoint));
  return problem === undefined ? { source: "option", origin, value, endpoint } : {
    source: "option",
    origin,
    value,
    endpoint: undefined,
    problem,
    fix: problem.includes("socketPath") ? "give socketPath or endpoint, not both" : fix,
  };
}

/** A `DOCKER_HOST`-style value, with TLS from the environment for `tcp://`. */
function hostCandidate(
  source: "option" | "DOCKER_HOST",
  origin: string,
  value: string,
  env: (name: string) => string | undefined,
  read: ReadTextFile,
  home: string | undefined,
): DockerEndpointCandidate {
  const fix = source === "option"
    ? "pass a path, unix:///path, tcp://host:port or ssh://[user@]host[:port]"
    : "set DOCKER_HOST to unix:///path, tcp://host:port or ssh://[user@]host[:port], or unset it";
  try {
    const tls = value.startsWith("tcp://") ? environmentTls(env, read, home) : undefined;
    const endpoint = parseDockerHost(value, tls === undefined ? {} : { tls });
    return { source, origin, value, endpoint };
  } catch (error) {
    return unusable(source, origin, value, error, { fix });
  }
}

function contextCandidate(
  source: "DOCKER_CONTEXT" | "context",
  name: string,
  configDir: string | undefined,
  read: ReadTextFile,
): DockerEndpointCandidate {
  const origin = source === "DOCKER_CONTEXT"
    ? `context "${name}" (DOCKER_CONTEXT)`
    : `context "${name}" (current in ${configDir}/config.json)`;
  const unset = source === "DOCKER_CONTEXT"
    ? "unset DOCKER_CONTEXT"
    : "switch to another context (docker context use default)";
  const extra = { context: name };
  if (configDir === undefined) {
    return unusable(
      source,
      origin,
      name,
      new EndpointProblem(
        "neither DOCKER_CONFIG nor HOME says where the docker config directory is",
        `set DOCKER_CONFIG (or HOME), or ${unset}`,
      ),
      extra,
    );
  }
  try {
    const { host, tls } = readContextEndpoint(read, name, configDir, unset);
    const endpoint = parseDockerHost(host, tls === undefined ? {} : { tls });
    return { source, origin, context: name, value: host, endpoint };
  } catch (error) {
    return unusable(source, origin, name, error, {
      ...extra,
      fix: `point it at an engine (docker context update ${name} --docker host=…), or ${unset}`,
    });
  }
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

/** Which engine discovery chose, and why. */
export interface DockerEndpointChoice {
  /** The endpoint. */
  endpoint: DockerEndpoint;
  /** Where it came from. */
  source: DockerEndpointSource;
  /** In words, such as `context "prod" (DOCKER_CONTEXT)` or `the default socket`. */
  origin: string;
  /** The context's name, when a context chose it. */
  context?: string;
  /** The fallbacks tried before it, and why each failed (such as a stale rootless socket). */
  skipped: DockerConnectionAttempt[];
}

/** The endpoint discovery settled on, with what its probe resolved to. */
export interface DiscoveredDockerEndpoint<T> extends DockerEndpointChoice {
  /** What the probe resolved to. */
  probed: T;
}

const CONFIGURED = new Set<DockerEndpointSource>([
  "option",
  "DOCKER_HOST",
  "DOCKER_CONTEXT",
  "context",
]);

/**
 * Tries each candidate endpoint (see {@linkcode dockerEndpointCandidates})
 * in order and settles on the first whose probe succeeds. A configured
 * choice is tried alone; `/var/run/docker.sock` leads on to the fallbacks
 * only when it is missing.
 *
 * @typeParam T What the probe resolves to.
 * @param options The candidates' sources and the probe.
 * @returns The endpoint, where it came from, and its probe's result.
 * @throws {DockerConnectionError} Naming what was tried, where it came from,
 * why it failed and how to fix it.
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
 * assert.equal(found.source, "default");
 * ```
 */
export async function discoverDockerEndpoint<T>(
  options: DiscoverDockerEndpointOptions<T>,
): Promise<DiscoveredDockerEndpoint<T>> {
  const candidates = dockerEndpointCandidates(options);
  const failed: { candidate: DockerEndpointCandidate; attempt: DockerConnectionAttempt }[] = [];
  for (const [index, candidate] of candidates.entries()) {
    const endpoint = candidate.endpoint;
    if (endpoint === undefined) {
      const attempt = { endpoint: candidate.value, reason: candidate.problem ?? "unusable" };
      throw new DockerConnectionError(
        `Cannot connect to the Docker engine: ${candidate.origin}: ${attempt.reason}; ${
          candidate.fix ?? "fix it"
        }`,
        { attempts: [...failed.map((f) => f.attempt), attempt] },
      );
    }
    try {
      const probed = await options.probe(endpoint);
      return {
        endpoint,
        source: candidate.source,
        origin: candidate.origin,
        ...(candidate.context === undefined ? {} : { context: candidate.context }),
        skipped: failed.map((f) => f.attempt),
        probed,
      };
    } catch (error) {
      failed.push({
        candidate,
        attempt: { endpoint: formatDockerEndpoint(endpoint), reason: connectFailureReason(error) },
      });
      const last = index === candidates.length - 1 || CONFIGURED.has(candidate.source) ||
        (candidate.source === "default" && socketErrorKind(error) !== "missing");
      if (last) {
        const tried = failed.map((f) =>
          `"${f.attempt.endpoint}" (${f.candidate.origin}: ${f.attempt.reason})`
        )
          .join(", ");
        throw new DockerConnectionError(
          `Cannot connect to the Docker engine: tried ${tried}; ${
            connectFix(candidate, error, failed.length)
          }`,
          { attempts: failed.map((f) => f.attempt), cause: error },
        );
      }
    }
  }
  throw new TypeError("Cannot discover the Docker engine: no candidates");
}

/**
 * A one-line summary of a choice, for a debug log line: the endpoint, where
 * it came from, and the fallbacks skipped.
 *
 * @param choice What discovery chose.
 * @returns Such as `unix:///var/run/docker.sock (the default socket)`.
 */
export function describeDockerEndpointChoice(choice: DockerEndpointChoice): string {
  const skipped = choice.skipped.length === 0
    ? ""
    : `; skipped ${choice.skipped.map((a) => `"${a.endpoint}" (${a.reason})`).join(", ")}`;
  return `${formatDockerEndpoint(choice.endpoint)} (${choice.origin})${skipped}`;
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
