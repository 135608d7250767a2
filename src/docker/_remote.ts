/**
 * The TLS and ssh halves of connecting to an engine: the `ssh` command line,
 * the TLS options, and the words for their failures (which certificate file,
 * which environment variable, which command to try), so the error a caller
 * sees names TLS or ssh and the fix rather than a bare reset.
 *
 * @module
 */

import { lastLines, ProcessExitError } from "../process_socket.ts";
import {
  socketErrorKind,
  type TlsConnectOptions,
  type TlsErrorKind,
  tlsErrorKind,
} from "../transport.ts";
import type { DockerEndpoint, DockerTlsOptions } from "./endpoint.ts";

/**
 * The `ssh` arguments that reach an `ssh://` endpoint's engine, as the
 * docker CLI builds them: the endpoint's `sshArgs` first (ssh keeps the
 * first value of an option, so they can override what follows), then
 * `BatchMode=yes` (a prompt would hang: nobody can answer it),
 * `ConnectTimeout=30`, no terminal, the user and port, and
 * `docker system dial-stdio` to run on the remote host.
 *
 * @param endpoint The `ssh` endpoint.
 * @returns The arguments, without `ssh` itself.
 * @throws {TypeError} For an empty host name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sshArguments } from "./_remote.ts";
 *
 * assert.deepEqual(
 *   sshArguments({ transport: "ssh", user: "me", hostname: "build-1", port: 2222 }),
 *   ["-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-T", "-l", "me", "-p", "2222",
 *     "--", "build-1", "docker", "system", "dial-stdio"],
 * );
 * ```
 */
export function sshArguments(endpoint: DockerEndpoint & { transport: "ssh" }): string[] {
  if (endpoint.hostname === "") {
    throw new TypeError("Cannot connect over ssh: the host name is empty");
  }
  const args = [...endpoint.sshArgs ?? []];
  args.push("-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-T");
  if (endpoint.user !== undefined) args.push("-l", endpoint.user);
  if (endpoint.port !== undefined) args.push("-p", String(endpoint.port));
  args.push("--", endpoint.hostname, "docker", "system", "dial-stdio");
  return args;
}

/**
 * The {@linkcode TlsConnectOptions} for an endpoint's TLS settings.
 *
 * @param tls The endpoint's TLS settings.
 * @param signal Aborts the connect.
 * @returns The options for `connectTls`.
 */
export function tlsConnectOptions(
  tls: DockerTlsOptions,
  signal: AbortSignal | undefined,
): TlsConnectOptions {
  const options: TlsConnectOptions = { verify: tls.verify };
  if (tls.ca !== undefined) options.caCerts = [tls.ca];
  if (tls.cert !== undefined) options.cert = tls.cert;
  if (tls.key !== undefined) options.key = tls.key;
  if (signal !== undefined) options.signal = signal;
  return options;
}

/**
 * Says why a connection to `endpoint` failed when the cause is TLS or ssh,
 * naming the certificate files and what to change.
 *
 * @param endpoint Where the connection went.
 * @param error What the connect, read or write threw.
 * @param fresh Nothing was received yet on a new connection (so a reset is
 * the peer refusing it, not a drop).
 * @returns The reason, or `undefined` for an ordinary socket error.
 */
export function describeFailure(
  endpoint: DockerEndpoint,
  error: unknown,
  fresh: boolean,
): string | undefined {
  if (error instanceof ProcessExitError && endpoint.transport === "ssh") {
    return sshExitReason(endpoint, error);
  }
  if (endpoint.transport !== "tcp" || endpoint.tls === undefined) return undefined;
  const kind = tlsErrorKind(error) ??
    (fresh && socketErrorKind(error) === "dropped" ? "closed" : undefined);
  if (kind === undefined) return undefined;
  // OpenSSL's own words are in `reason`; its `message` adds codes and source paths.
  const { reason, message } = (error ?? {}) as { reason?: unknown; message?: unknown };
  const detail = typeof reason === "string" ? reason : String(message ?? error);
  return tlsReason(endpoint, kind, detail.trim());
}

/**
 * Words a TLS failure of `endpoint`: what the engine or this side refused,
 * which of its files (`ca.pem`, `cert.pem` in `tls.source`) is at stake, and what to change.
 *
 * @param endpoint A `tcp` endpoint with `tls`.
 * @param kind What failed; `"closed"`: the engine hung up before answering.
 * @param detail The runtime's own words, quoted in parentheses.
 * @returns The reason, for a connection attempt's `reason`.
 */
export function tlsReason(
  endpoint: DockerEndpoint & { transport: "tcp" },
  kind: TlsErrorKind | "closed",
  detail: string,
): string {
  const tls = endpoint.tls!;
  const file = (name: string) =>
    tls.source === undefined ? `the ${name} given` : `"${tls.source}/${name}"`;
  const clientCertificate = tls.cert === undefined
    ? `no client certificate was given, and an engine run with --tlsverify requires one: put cert.pem and key.pem (signed by the engine's CA) in DOCKER_CERT_PATH${
      tls.source === undefined ? "" : ` ("${tls.source}")`
    }`
    : `the client certificate ${
      file("cert.pem")
    } is not signed by the CA the engine trusts (its --tlscacert): use one that is`;
  switch (kind) {
    case "untrusted":
      return `TLS: the engine's certificate is not trusted (${detail}); it was checked against ${
        tls.ca === undefined ? "the system's trusted roots, as no ca.pem was given" : file("ca.pem")
      }: put the CA that signed the engine's certificate (its --tlscacert) in DOCKER_CERT_PATH as ca.pem`;
    case "wrong-name":
      return `TLS: the engine's certificate does not name "${endpoint.hostname}" (${detail}): connect by a name or address its subjectAltName lists`;
    case "rejected":
      return /certificate|unknown ?ca/i.test(detail)
        ? `TLS: the engine refused the handshake (${detail}); ${clientCertificate}`
        : `TLS: the engine refused the handshake (${detail}): check its TLS settings (--tlsverify, --tlscacert)`;
    case "closed":
      return `TLS: the engine closed the connection before answering (${detail}), as it does when it refuses the client certificate; ${clientCertificate}`;
    case "not-tls":
      return `TLS: the engine does not answer in TLS (${detail}): this port serves plain HTTP; unset DOCKER_TLS_VERIFY (and DOCKER_TLS) for it, or use the engine's TLS port (usually 2376)`;
    case "silent":
      return `TLS: ${detail}: check that this is the engine's TLS port`;
  }
}

function sshExitReason(
  endpoint: DockerEndpoint & { transport: "ssh" },
  error: ProcessExitError,
): string {
  const command = ["ssh", ...sshArguments(endpoint)]
    .map((arg) => /^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg)).join(" ");
  const { code, signal } = error.status;
  const how = signal === null ? `exited with code ${code}` : `was killed by ${signal}`;
  const said = lastLines(error.stderr, 3);
  const head = `ssh ${how} before the engine answered${said === "" ? "" : ` (${said})`}`;
  if (/docker: (command )?not found|docker: No such file/i.test(error.stderr)) {
    return `${head}: install the docker CLI on "${endpoint.hostname}" (ssh runs "docker system dial-stdio" there)`;
  }
  if (
    code === 255 &&
    /Could not resolve|Connection refused|timed out|No route|unreachable/i.test(said)
  ) {
    return `${head}: check the host name and port, and that sshd runs there`;
  }
  if (code === 255) {
    return `${head}: check that "${command}" works from a shell; BatchMode is on, so ssh cannot ask for a password or to accept a new host key (use a key or an agent, and known_hosts)`;
  }
  return `${head}: "docker system dial-stdio" failed on "${endpoint.hostname}": check that its docker CLI reaches its engine`;
}
