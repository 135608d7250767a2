/**
 * Where endpoint discovery reads from, beyond the environment: what the
 * docker CLI keeps on disk (the current context in
 * `$DOCKER_CONFIG/config.json`, a context's `meta.json` and TLS files, a
 * `DOCKER_CERT_PATH` directory), the sockets laptop and rootless engines
 * create, and the fix to suggest for each source's failure. Pure over an
 * injected file reader, so tests run on fake trees with no permissions.
 *
 * @module
 */

import { socketErrorKind } from "../transport.ts";
import { sha256Hex } from "../util/sha256.ts";
import type {
  DockerEndpoint,
  DockerEndpointCandidate,
  DockerEndpointSource,
  DockerTlsOptions,
} from "./endpoint.ts";

/** Reads a text file: its text, `undefined` when it does not exist; throws when it cannot be read. */
export type ReadTextFile = (path: string) => string | undefined;

/** Why a chosen endpoint cannot be used, and what to do about it. */
export class EndpointProblem extends Error {
  /** How to fix it. */
  readonly fix: string;

  /**
   * @param message Why (lowercase: it follows the origin in the final message).
   * @param fix How to fix it.
   */
  constructor(message: string, fix: string) {
    super(message);
    this.name = "EndpointProblem";
    this.fix = fix;
  }
}

/** A context's docker endpoint, as its `meta.json` and TLS directory give it. */
export interface ContextEndpoint {
  /** `Endpoints.docker.Host`. */
  host: string;
  /** TLS settings: set when the context has TLS files or `SkipTLSVerify`. */
  tls: DockerTlsOptions | undefined;
}

/** The PEM files of a TLS directory. */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

function readError(path: string, error: unknown): string {
  if (typeof Deno !== "undefined" && error instanceof Deno.errors.NotCapable) {
    const dir = path.slice(0, path.lastIndexOf("/")) || "/";
    return `"${path}" cannot be read: Deno permission denied (grant --allow-read=${dir})`;
  }
  return `"${path}" cannot be read: ${error instanceof Error ? error.message : String(error)}`;
}

/** Reads a file, turning a read failure into an {@linkcode EndpointProblem}. */
export function readFile(read: ReadTextFile, path: string, fix: string): string | undefined {
  try {
    return read(path);
  } catch (error) {
    throw new EndpointProblem(readError(path, error), fix);
  }
}

/**
 * The current context named in `<configDir>/config.json`, as `docker
 * context use` writes it.
 *
 * @returns The name, or `undefined` when the file is missing or names none.
 * @throws {EndpointProblem} When the file cannot be read or is not valid JSON:
 * it may name a context, and guessing another engine would be worse.
 */
export function readCurrentContext(read: ReadTextFile, configDir: string): string | undefined {
  const path = `${configDir}/config.json`;
  const fix =
    `fix or remove "${path}", or choose the engine explicitly with DOCKER_HOST or DOCKER_CONTEXT`;
  const text = readFile(read, path, fix);
  if (text === undefined) return undefined;
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new EndpointProblem(`"${path}" is not valid JSON (${(error as Error).message})`, fix);
  }
  const current = (config as { currentContext?: unknown } | null)?.currentContext;
  if (current === undefined || current === null || current === "") return undefined;
  if (typeof current !== "string") {
    throw new EndpointProblem(`"currentContext" in "${path}" is not a string`, fix);
  }
  return current;
}

/**
 * Reads a context's docker endpoint: `contexts/meta/<sha256 of name>/meta.json`
 * (`Endpoints.docker.Host`, `SkipTLSVerify`) and the PEM files in
 * `contexts/tls/<sha256 of name>/docker/`. As the CLI does, TLS is on when
 * the context has any TLS file or skips verification.
 *
 * @param name The context's name.
 * @param configDir The docker config directory.
 * @param unset How to stop choosing this context (for the fixes).
 * @returns The endpoint's host and TLS settings.
 * @throws {EndpointProblem} For a missing context, an unreadable or malformed
 * `meta.json`, or unusable TLS files.
 */
export function readContextEndpoint(
  read: ReadTextFile,
  name: string,
  configDir: string,
  unset: string,
): ContextEndpoint {
  const id = sha256Hex(name);
  const metaPath = `${configDir}/contexts/meta/${id}/meta.json`;
  const fix =
    `fix the context (docker context inspect ${name}; docker context update ${name} --docker host=…), or ${unset}`;
  const text = readFile(read, metaPath, fix);
  if (text === undefined) {
    throw new EndpointProblem(
      `no such context ("${metaPath}" is missing)`,
      `create it (docker context create ${name} --docker host=…), pick one of docker context ls, or ${unset}`,
    );
  }
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch (error) {
    throw new EndpointProblem(`"${metaPath}" is not valid JSON (${(error as Error).message})`, fix);
  }
  const docker = (meta as { Endpoints?: { docker?: unknown } } | null)?.Endpoints?.docker;
  if (docker === null || typeof docker !== "object") {
    throw new EndpointProblem(`"${metaPath}" has no docker endpoint (Endpoints.docker)`, fix);
  }
  const { Host: host, SkipTLSVerify: skip } = docker as { Host?: unknown; SkipTLSVerify?: unknown };
  if (typeof host !== "string" || host === "") {
    throw new EndpointProblem(`"${metaPath}" has no Endpoints.docker.Host`, fix);
  }
  const tlsDir = `${configDir}/contexts/tls/${id}/docker`;
  const files = readTlsFiles(read, tlsDir, fix);
  const skipVerify = skip === true;
  const tls = skipVerify || Object.keys(files).length > 0
    ? { verify: !skipVerify, ...files, source: tlsDir }
    : undefined;
  return { host, tls };
}

/**
 * Reads `ca.pem`, `cert.pem` and `key.pem` from a directory, each optional,
 * but a client certificate only with its key.
 *
 * @param dir The directory.
 * @param fix What to do when a file is unusable.
 * @returns The files found, as PEM text.
 * @throws {EndpointProblem} For an unreadable or non-PEM file, or a
 * certificate without its key (or the reverse).
 */
export function readTlsFiles(read: ReadTextFile, dir: string, fix: string): TlsFiles {
  const files: TlsFiles = {};
  for (const name of ["ca", "cert", "key"] as const) {
    const path = `${dir}/${name}.pem`;
    const text = readFile(read, path, fix);
    if (text === undefined) continue;
    if (!text.includes("-----BEGIN ")) {
      throw new EndpointProblem(`"${path}" is not a PEM file (no "-----BEGIN" line)`, fix);
    }
    files[name] = text;
  }
  if ((files.cert === undefined) !== (files.key === undefined)) {
    const [has, lacks] = files.cert === undefined ? ["key", "cert"] : ["cert", "key"];
    throw new EndpointProblem(
      `"${dir}" has ${has}.pem but no ${lacks}.pem (a client certificate needs both)`,
      fix,
    );
  }
  return files;
}

/** The sockets tried when `/var/run/docker.sock` is missing, in order. */
export function fallbackSockets(
  runtimeDir: string | undefined,
  home: string | undefined,
): [DockerEndpointSource, string, string][] {
  const list: [DockerEndpointSource, string, string][] = [];
  if (runtimeDir !== undefined) {
    list.push([
      "XDG_RUNTIME_DIR",
      `${runtimeDir}/docker.sock`,
      "rootless Docker ($XDG_RUNTIME_DIR)",
    ]);
  }
  if (home !== undefined) {
    list.push(
      ["docker-desktop", `${home}/.docker/run/docker.sock`, "Docker Desktop"],
      ["docker-desktop", `${home}/.docker/desktop/docker.sock`, "Docker Desktop"],
      ["colima", `${home}/.colima/default/docker.sock`, "Colima"],
      ["orbstack", `${home}/.orbstack/run/docker.sock`, "OrbStack"],
      ["rancher-desktop", `${home}/.rd/docker.sock`, "Rancher Desktop"],
    );
  }
  if (runtimeDir !== undefined) {
    list.push(["podman", `${runtimeDir}/podman/podman.sock`, "rootless Podman"]);
  }
  list.push(["podman", "/run/podman/podman.sock", "Podman"]);
  return list;
}

/** An absolute directory without trailing slashes, or `undefined` for a relative or unset one. */
export function absoluteDir(dir: string | undefined): string | undefined {
  return dir?.startsWith("/") ? dir.replace(/(.)\/+$/, "$1") : undefined;
}

/** What is wrong with an `endpoint` option's shape, or `undefined` when it is usable. */
export function endpointShapeProblem(endpoint: DockerEndpoint): string | undefined {
  const e = endpoint as Partial<Record<string, unknown>> | null;
  if (e === null || typeof e !== "object") return "it is not an object";
  if (e.transport === "unix") {
    return typeof e.path === "string" && e.path.startsWith("/")
      ? undefined
      : "a unix endpoint needs an absolute path";
  }
  if (e.transport !== "tcp" && e.transport !== "ssh") {
    return `transport ${JSON.stringify(e.transport)} is none of "unix", "tcp", "ssh"`;
  }
  if (typeof e.hostname !== "string" || e.hostname === "") return "the hostname is empty";
  const port = e.port;
  if (
    (e.transport === "tcp" || port !== undefined) &&
    !(typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535)
  ) {
    return `port ${JSON.stringify(port)} is not an integer from 1 to 65535`;
  }
  return undefined;
}

/**
 * TLS from `DOCKER_TLS_VERIFY` / `DOCKER_TLS` and `DOCKER_CERT_PATH`, or
 * `undefined` when neither variable is set.
 */
export function environmentTls(
  env: (name: string) => string | undefined,
  read: ReadTextFile,
  home: string | undefined,
): DockerTlsOptions | undefined {
  const verifyVar = env("DOCKER_TLS_VERIFY") !== undefined;
  if (!verifyVar && env("DOCKER_TLS") === undefined) return undefined;
  const variable = verifyVar ? "DOCKER_TLS_VERIFY" : "DOCKER_TLS";
  const certPath = env("DOCKER_CERT_PATH")?.replace(/(.)\/+$/, "$1");
  const dir = certPath ?? (home === undefined ? undefined : `${home}/.docker`);
  const off = `or unset ${verifyVar ? "DOCKER_TLS_VERIFY" : "DOCKER_TLS"} for plain TCP`;
  if (dir === undefined) {
    throw new EndpointProblem(
      `${variable} is set but neither DOCKER_CERT_PATH nor HOME says where ca.pem, cert.pem and key.pem are`,
      `set DOCKER_CERT_PATH to the directory holding them, ${off}`,
    );
  }
  const fix =
    `put the engine's ca.pem (and a client cert.pem with its key.pem) in "${dir}", set DOCKER_CERT_PATH to the directory holding them, ${off}`;
  const files = readTlsFiles(read, dir, fix);
  if (verifyVar && files.ca === undefined) {
    throw new EndpointProblem(`DOCKER_TLS_VERIFY is set but "${dir}/ca.pem" is missing`, fix);
  }
  if (certPath !== undefined && Object.keys(files).length === 0) {
    throw new EndpointProblem(
      `DOCKER_CERT_PATH "${certPath}" holds none of ca.pem, cert.pem, key.pem`,
      fix,
    );
  }
  return { verify: true, ...files, source: dir };
}

/** What to do when the last endpoint tried failed with `error`. */
export function connectFix(
  candidate: DockerEndpointCandidate,
  error: unknown,
  tried: number,
): string {
  const endpoint = candidate.endpoint!;
  if (typeof Deno !== "undefined" && error instanceof Deno.errors.NotCapable) {
    if (endpoint.transport === "unix") {
      return `grant Deno access to the socket (--allow-read=${endpoint.path} --allow-write=${endpoint.path})`;
    }
    return endpoint.transport === "tcp"
      ? `grant Deno network access (--allow-net=${endpoint.hostname}:${endpoint.port})`
      : "grant Deno --allow-run=ssh";
  }
  const kind = socketErrorKind(error);
  switch (candidate.source) {
    case "option":
      return `check the socketPath (or endpoint) option "${candidate.value}", or leave it out to discover the engine`;
    case "DOCKER_HOST":
      return "point DOCKER_HOST at a running engine, or unset it";
    case "DOCKER_CONTEXT":
    case "context": {
      const name = candidate.context!;
      const unset = candidate.source === "DOCKER_CONTEXT"
        ? "unset DOCKER_CONTEXT"
        : "switch context (docker context use default)";
      return `start the engine context "${name}" points at, point it elsewhere (docker context update ${name} --docker host=…), or ${unset}`;
    }
    case "default":
      if (kind === "denied") {
        return "add your user to the socket's group (sudo usermod -aG docker $USER, then log in again); for rootless Docker, set DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock";
      }
      if (kind === "refused") {
        return "start the engine (sudo systemctl start docker); a stale socket file is left when dockerd died";
      }
  }
  return `${
    tried > 1 ? "start an engine" : "start the engine"
  } (sudo systemctl start docker; Docker Desktop, Colima, OrbStack, Rancher Desktop or Podman on a laptop), or choose one with DOCKER_HOST or docker context use; in a container, mount the socket: -v /var/run/docker.sock:/var/run/docker.sock`;
}
