/**
 * A local OpenSSH server of the test's own on a loopback port: its own
 * config (`-f`), host key and authorized key, in the foreground (`-D -e`).
 * Its "remote" side runs the docker CLI (`docker system dial-stdio`)
 * against the machine's engine, as a remote host would against its own.
 */

import { DOCKER_REQUIRED, DOCKER_SOCKET } from "./docker.ts";
import { freePort } from "./tls_engine.ts";
import type { DockerEndpoint } from "../../src/docker/endpoint.ts";

const SSHD = "/usr/sbin/sshd";
/** The directory sshd's privilege separation needs (Debian's service makes it at boot). */
const PRIVSEP_DIR = "/run/sshd";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function onPath(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command("sh", {
      args: ["-c", `command -v ${command}`],
      stdout: "null",
      stderr: "null",
    }).output()).success;
  } catch {
    return false;
  }
}

/** Whether a test sshd can run here: sshd, ssh, ssh-keygen and the docker CLI, as root. */
export const sshdAvailable: boolean = Deno.uid() === 0 && await exists(SSHD) &&
  await onPath("ssh") && await onPath("ssh-keygen") && await onPath("docker");

/** Pass as `ignore`: true only when sshd cannot run and Docker is not required. */
export const ignoreWithoutSshd: boolean = !sshdAvailable && !DOCKER_REQUIRED;

async function keygen(path: string): Promise<void> {
  const out = await new Deno.Command("ssh-keygen", {
    args: ["-q", "-t", "ed25519", "-N", "", "-C", "flame-docker test", "-f", path],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`ssh-keygen failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** How long sshd may take to accept connections. */
const START_TIMEOUT = 10_000;

/** A running test sshd; `close()` stops it and removes its files. */
export class TestSshd implements AsyncDisposable {
  /** Its loopback port. */
  readonly port: number;
  /** The user to log in as (root: sshd needs root to switch to any user). */
  readonly user: string;
  /** A private key sshd accepts. */
  readonly key: string;
  /** A private key sshd does not accept. */
  readonly wrongKey: string;
  #dir: string;
  #child: Deno.ChildProcess;
  #log: Promise<string>;
  #madePrivsepDir: boolean;

  private constructor(
    dir: string,
    port: number,
    user: string,
    child: Deno.ChildProcess,
    log: Promise<string>,
    madePrivsepDir: boolean,
  ) {
    this.#dir = dir;
    this.port = port;
    this.user = user;
    this.key = `${dir}/client`;
    this.wrongKey = `${dir}/wrong`;
    this.#child = child;
    this.#log = log;
    this.#madePrivsepDir = madePrivsepDir;
  }

  /** Makes the keys and config, starts sshd, waits until it accepts connections. */
  static async start(): Promise<TestSshd> {
    const dir = await Deno.makeTempDir({ prefix: "flame-sshd-" });
    const madePrivsepDir = !await exists(PRIVSEP_DIR);
    let child: Deno.ChildProcess | undefined;
    let log: Promise<string> | undefined;
    try {
      if (madePrivsepDir) await Deno.mkdir(PRIVSEP_DIR, { mode: 0o755 });
      await Promise.all([
        keygen(`${dir}/host_key`),
        keygen(`${dir}/client`),
        keygen(`${dir}/wrong`),
      ]);
      await Deno.copyFile(`${dir}/client.pub`, `${dir}/authorized_keys`);
      const port = freePort();
      await Deno.writeTextFile(
        `${dir}/sshd_config`,
        [
          `Port ${port}`,
          "ListenAddress 127.0.0.1",
          `HostKey ${dir}/host_key`,
          "PidFile none",
          `AuthorizedKeysFile ${dir}/authorized_keys`,
          "PermitRootLogin prohibit-password",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "StrictModes no",
          "UsePAM no",
          // The remote docker CLI talks to the engine the tests use.
          `SetEnv DOCKER_HOST=unix://${DOCKER_SOCKET}`,
          "",
        ].join("\n"),
      );
      child = new Deno.Command(SSHD, {
        args: ["-D", "-e", "-f", `${dir}/sshd_config`],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      log = new Response(child.stderr).text();
      let exited = false;
      child.status.then(() => exited = true);
      const deadline = performance.now() + START_TIMEOUT;
      while (!await accepts(port)) {
        if (exited || performance.now() > deadline) {
          if (!exited) child.kill("SIGKILL");
          await child.status;
          throw new Error(
            `The test's sshd ${exited ? "exited" : `did not listen within ${START_TIMEOUT} ms`}: ${
              (await log).trim()
            }`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return new TestSshd(dir, port, "root", child, log, madePrivsepDir);
    } catch (error) {
      if (child !== undefined) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already exited.
        }
        await child.status;
        await log;
      }
      await cleanUp(dir, madePrivsepDir);
      throw error;
    }
  }

  /** `ssh` arguments that trust this sshd's unknown host key and log in with `key`. */
  sshArgs(key: string = this.key): string[] {
    return [
      "-F",
      "none",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "LogLevel=ERROR",
      "-o",
      "IdentitiesOnly=yes",
      "-i",
      key,
    ];
  }

  /** The `ssh` endpoint of this sshd (or of `port`), logging in with `key`. */
  endpoint(key: string = this.key, port: number = this.port): DockerEndpoint {
    return {
      transport: "ssh",
      user: this.user,
      hostname: "127.0.0.1",
      port,
      sshArgs: this.sshArgs(key),
    };
  }

  /** Stops sshd and removes its files. */
  async close(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await this.#child.status;
    await this.#log;
    await cleanUp(this.#dir, this.#madePrivsepDir);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function cleanUp(dir: string, madePrivsepDir: boolean): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  if (madePrivsepDir) await Deno.remove(PRIVSEP_DIR).catch(() => {});
}

async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Pids of this process's children named `name` (from `/proc`), such as the
 * `ssh` processes a connection started.
 */
export async function childProcesses(name: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^[0-9]+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      if (comm === name && ppid === Deno.pid) pids.push(Number(entry.name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Waits until this process has no child named `name` (a zombie counts); returns those left after `timeout`. */
export async function childrenGone(name: string, timeout: number): Promise<number[]> {
  const deadline = performance.now() + timeout;
  for (;;) {
    const left = await childProcesses(name);
    if (left.length === 0 || performance.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
