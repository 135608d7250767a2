/**
 * A second dockerd of the test's own, on a loopback TCP port with
 * `--tlsverify` (mutual TLS), its certificates made with `openssl`.
 *
 * It shares nothing with the machine's engine: its own `--data-root`,
 * `--exec-root`, `--pidfile`, unix socket, `--config-file` and the
 * containerd it starts for itself under its exec-root (the main engine's
 * containerd is never dialed); no bridge, no iptables rules, the `vfs`
 * storage driver (nothing is mounted). It is for reaching an engine over
 * TLS, not for running containers. Starting it takes about half a second.
 */

import { DOCKER_REQUIRED } from "./docker.ts";
import type { DockerEndpoint, DockerTlsOptions } from "../../src/docker/endpoint.ts";

async function onPath(command: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${command}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

const isRoot = Deno.uid() === 0;

/** Whether a TLS dockerd can be started here: root, `dockerd` and `openssl`. */
export const tlsEngineAvailable: boolean = isRoot && await onPath("dockerd") &&
  await onPath("openssl");

/** Pass as `ignore`: true only when a TLS dockerd cannot start and Docker is not required. */
export const ignoreWithoutTlsEngine: boolean = !tlsEngineAvailable && !DOCKER_REQUIRED;

/** Whether `openssl` is on `PATH`. */
export const opensslAvailable: boolean = await onPath("openssl");

/** Certificate files in one directory, named as `DOCKER_CERT_PATH` expects. */
export interface TestCertificates {
  /** The directory: `ca.pem`, `cert.pem`, `key.pem` (client), `server-cert.pem`, `server-key.pem`. */
  dir: string;
  /** The CA's certificate (PEM). */
  ca: string;
  /** The client certificate (PEM), signed by the CA. */
  cert: string;
  /** The client key (PEM). */
  key: string;
  /** A CA that signed nothing here (PEM), in `other-ca.pem`. */
  otherCa: string;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(
      `openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/**
 * Makes a CA, a server certificate for `127.0.0.1` and `localhost`, a client
 * certificate, and an unrelated CA, in `dir` (valid for a day).
 */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    [
      "[server]",
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "[client]",
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=clientAuth",
      "",
    ].join("\n"),
  );
  const ca = (name: string, subject: string) =>
    openssl(
      dir,
      "req",
      "-x509",
      ...EC_KEY,
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.pem`,
      "-days",
      "1",
      "-subj",
      subject,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    );
  const signed = async (cert: string, key: string, subject: string, extensions: string) => {
    await openssl(dir, "req", ...EC_KEY, "-keyout", key, "-out", `${cert}.csr`, "-subj", subject);
    await openssl(
      dir,
      "x509",
      "-req",
      "-in",
      `${cert}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca-key.pem",
      "-CAcreateserial",
      "-out",
      cert,
      "-days",
      "1",
      "-extfile",
      "ext.cnf",
      "-extensions",
      extensions,
    );
  };
  await ca("ca", "/CN=flame-docker test CA");
  await ca("other-ca", "/CN=flame-docker unrelated CA");
  await signed("server-cert.pem", "server-key.pem", "/CN=localhost", "server");
  await signed("cert.pem", "key.pem", "/CN=flame-docker test client", "client");
  const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
  return {
    dir,
    ca: await read("ca.pem"),
    cert: await read("cert.pem"),
    key: await read("key.pem"),
    otherCa: await read("other-ca.pem"),
  };
}

/** A free loopback TCP port (bound, read, released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Collects a child's output (both streams) for error messages. */
class OutputLog {
  #text = "";
  readonly done: Promise<void>;

  constructor(...streams: ReadableStream<Uint8Array>[]) {
    this.done = Promise.all(streams.map(async (stream) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) this.#text += decoder.decode(chunk, { stream: true });
    })).then(() => {});
  }

  /** The last `count` lines. */
  tail(count = 20): string {
    return this.#text.trimEnd().split("\n").slice(-count).join("\n");
  }
}

/** Whether something accepts TCP connections on `port`. */
async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Whether an engine answers a raw `GET /_ping` on a unix socket. */
async function pingUnix(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    try {
      await conn.write(new TextEncoder().encode("GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n"));
      const buf = new Uint8Array(32);
      const n = await conn.read(buf);
      return new TextDecoder().decode(buf.subarray(0, n ?? 0)).startsWith("HTTP/1.1 200");
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

/** How long dockerd may take to answer on both sockets. */
const START_TIMEOUT = 30_000;
/** How long dockerd may take to stop on SIGTERM before SIGKILL. */
const STOP_TIMEOUT = 15_000;

/** A dockerd with `--tlsverify` on `127.0.0.1:port`; `close()` stops it and removes its files. */
export class TlsEngine implements AsyncDisposable {
  /** Its TLS port. */
  readonly port: number;
  /** Its own unix socket (plain HTTP). */
  readonly socket: string;
  /** Its `--data-root`. */
  readonly dataRoot: string;
  /** The certificates (`DOCKER_CERT_PATH` is `certs.dir`). */
  readonly certs: TestCertificates;
  /** Milliseconds from spawn until it answered on both sockets. */
  readonly startedIn: number;
  /** Its temporary directory (removed by `close()`), for more files of the test's. */
  readonly dir: string;
  #child: Deno.ChildProcess;
  #log: OutputLog;

  private constructor(
    dir: string,
    port: number,
    certs: TestCertificates,
    child: Deno.ChildProcess,
    log: OutputLog,
    startedIn: number,
  ) {
    this.dir = dir;
    this.port = port;
    this.socket = `${dir}/docker.sock`;
    this.dataRoot = `${dir}/data`;
    this.certs = certs;
    this.#child = child;
    this.#log = log;
    this.startedIn = startedIn;
  }

  /** Makes certificates, starts dockerd, waits until it answers (or throws with its log's tail). */
  static async start(): Promise<TlsEngine> {
    const dir = await Deno.makeTempDir({ prefix: "flame-tls-" });
    let child: Deno.ChildProcess | undefined;
    let log: OutputLog | undefined;
    try {
      await Deno.mkdir(`${dir}/certs`);
      const certs = await makeCertificates(`${dir}/certs`);
      await Deno.writeTextFile(`${dir}/daemon.json`, "{}\n");
      const port = freePort();
      const began = performance.now();
      child = new Deno.Command("dockerd", {
        args: [
          "--config-file",
          `${dir}/daemon.json`,
          "--data-root",
          `${dir}/data`,
          "--exec-root",
          `${dir}/exec`,
          "--pidfile",
          `${dir}/docker.pid`,
          "-H",
          `unix://${dir}/docker.sock`,
          "-H",
          `tcp://127.0.0.1:${port}`,
          "--tlsverify",
          "--tlscacert",
          `${certs.dir}/ca.pem`,
          "--tlscert",
          `${certs.dir}/server-cert.pem`,
          "--tlskey",
          `${certs.dir}/server-key.pem`,
          "--bridge=none",
          "--iptables=false",
          "--ip-masq=false",
          "--storage-driver=vfs",
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      log = new OutputLog(child.stdout, child.stderr);
      let exited = false;
      child.status.then(() => exited = true);
      const deadline = began + START_TIMEOUT;
      while (!(await pingUnix(`${dir}/docker.sock`) && await accepts(port))) {
        if (exited || performance.now() > deadline) {
          throw new Error(
            `The test's TLS dockerd ${
              exited ? "exited" : `did not answer within ${START_TIMEOUT} ms`
            }; its log ends with:\n${log.tail()}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return new TlsEngine(dir, port, certs, child, log, Math.round(performance.now() - began));
    } catch (error) {
      if (child !== undefined) await stopChild(child, log!);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  /** TLS settings with the test's CA and client certificate (`source`: their directory). */
  get tls(): DockerTlsOptions {
    const { ca, cert, key, dir } = this.certs;
    return { verify: true, ca, cert, key, source: dir };
  }

  /** The endpoint of its TLS port (or of `port`), with `tls` (else {@linkcode TlsEngine.tls}). */
  endpoint(tls: DockerTlsOptions = this.tls, port: number = this.port): DockerEndpoint {
    return { transport: "tcp", hostname: "127.0.0.1", port, tls };
  }

  /** The last lines dockerd logged. */
  logTail(count?: number): string {
    return this.#log.tail(count);
  }

  /** Stops dockerd (SIGTERM, then SIGKILL) and removes every file it and the test made. */
  async close(): Promise<void> {
    await stopChild(this.#child, this.#log);
    await Deno.remove(this.dir, { recursive: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function stopChild(child: Deno.ChildProcess, log: OutputLog): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // Already exited.
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopped = await Promise.race([
    child.status.then(() => true),
    new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), STOP_TIMEOUT)),
  ]);
  clearTimeout(timer);
  if (!stopped) child.kill("SIGKILL");
  await child.status;
  await log.done;
}

/**
 * A plain TCP port on loopback that forwards each connection to a unix
 * socket (the TLS engine's own, which speaks plain HTTP): a real engine on
 * a plain port, to dial with TLS by mistake.
 */
export class PlainForwarder implements AsyncDisposable {
  /** The loopback port. */
  readonly port: number;
  #listener: Deno.TcpListener;
  #conns = new Set<Deno.Conn>();
  #tasks: Promise<void>[] = [];
  #serving: Promise<void>;

  /** @param target The unix socket to forward to. */
  constructor(target: string) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#serving = this.#serve(target);
  }

  async #serve(target: string): Promise<void> {
    try {
      for await (const down of this.#listener) {
        this.#conns.add(down);
        this.#tasks.push(
          (async () => {
            const up = await Deno.connect({ transport: "unix", path: target }).catch((error) => {
              closeQuietly(down);
              throw error;
            });
            this.#conns.add(up);
            await Promise.all([copy(down, up), copy(up, down)]);
          })().catch(() => {}),
        );
      }
    } catch {
      // Closed.
    }
  }

  /** Stops listening and closes every forwarded connection. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#serving;
    for (const conn of this.#conns) closeQuietly(conn);
    await Promise.all(this.#tasks);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16384);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      let written = 0;
      while (written < n) written += await to.write(buf.subarray(written, n));
    }
  } finally {
    closeQuietly(from);
    closeQuietly(to);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
