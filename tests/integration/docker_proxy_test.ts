/**
 * DockerBackend behind a real HAProxy in front of the engine socket, as
 * docker-socket-proxy (Tecnativa) puts it: `timeout server` and `timeout
 * client` cut every request that stays quiet for 2 s, the runner's `wait` and
 * its log follow among them. A runner living past several cuts still reports
 * its last log lines when it dies: all of them, in order, none twice.
 *
 * Needs `haproxy` on the PATH (`.ci/run` installs it); without it the test is
 * ignored, unless FLAME_REQUIRE_DOCKER=1 (then it fails saying so).
 */

import assert from "node:assert/strict";
import {
  type Backend,
  type BootSpec,
  type CallContext,
  DockerBackend,
  type DockerBackendOptions,
  type ParentAddress,
  Pool,
  type RunnerHandle,
} from "../../mod.ts";
import { sleep, waitForAsync } from "../_helpers/backends.ts";
import {
  containersOfPool,
  docker,
  DOCKER_REQUIRED,
  DOCKER_SOCKET,
  engineAnswers,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
  TestNetwork,
} from "../_helpers/docker.ts";

/** The proxy's `timeout server` and `timeout client`, in milliseconds. */
const PROXY_TIMEOUT = 2000;

async function haproxyInstalled(): Promise<boolean> {
  try {
    const out = await new Deno.Command("haproxy", { args: ["-v"], stdout: "null", stderr: "null" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

const haproxyAvailable = await haproxyInstalled();

/**
 * An HAProxy in `mode http` on a unix socket in a temporary directory, in
 * front of the engine socket; it logs every request (with the state it ended
 * in) to its stderr.
 */
class HaproxyFront implements AsyncDisposable {
  readonly path: string;
  #dir: string;
  #child: Deno.ChildProcess;
  #stderr: Promise<string>;

  private constructor(dir: string, child: Deno.ChildProcess) {
    this.#dir = dir;
    this.path = `${dir}/docker.sock`;
    this.#child = child;
    this.#stderr = new Response(child.stderr).text();
  }

  /** Starts one and waits (at most 5 s) until the engine answers through it; removes everything if it does not. */
  static async start(): Promise<HaproxyFront> {
    const dir = await Deno.makeTempDir({ prefix: "flame-haproxy-" });
    let child: Deno.ChildProcess;
    try {
      // No `timeout tunnel`: the cuts must really happen.
      await Deno.writeTextFile(
        `${dir}/haproxy.cfg`,
        [
          "global",
          "  maxconn 256",
          "  log stderr format raw local0",
          "defaults",
          "  mode http",
          "  log global",
          "  option httplog",
          "  timeout connect 2s",
          `  timeout client ${PROXY_TIMEOUT}ms`,
          `  timeout server ${PROXY_TIMEOUT}ms`,
          "frontend engine",
          `  bind unix@${dir}/docker.sock`,
          "  default_backend engine",
          "backend engine",
          `  server engine unix@${DOCKER_SOCKET}`,
          "",
        ].join("\n"),
      );
      child = new Deno.Command("haproxy", {
        args: ["-f", `${dir}/haproxy.cfg`, "-db"],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      await Deno.remove(dir, { recursive: true });
      throw err;
    }
    const front = new HaproxyFront(dir, child);
    if (!await waitForAsync(() => engineAnswers(front.path), 5000)) {
      const log = await front.stop();
      throw new Error(`HAProxy did not answer on "${front.path}" within 5 s; its output:\n${log}`);
    }
    return front;
  }

  /** Stops it (SIGTERM, SIGKILL after 2 s), removes its directory; returns its output. */
  async stop(): Promise<string> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Exited already.
    }
    const killer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }, 2000);
    try {
      await this.#child.status;
    } finally {
      clearTimeout(killer);
      await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    }
    return await this.#stderr;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** A DockerBackend that keeps each runner's handle, to read how it exited. */
class HandleKeepingBackend implements Backend {
  readonly name = "docker";
  readonly inner: DockerBackend;
  readonly handles = new Map<string, RunnerHandle>();

  constructor(options: DockerBackendOptions) {
    this.inner = new DockerBackend(options);
  }

  prepare(): Promise<ParentAddress> {
    return this.inner.prepare();
  }

  async boot(spec: BootSpec): Promise<RunnerHandle> {
    const handle = await this.inner.boot(spec);
    this.handles.set(spec.id, handle);
    return handle;
  }

  stop(handle: RunnerHandle): Promise<void> {
    return this.inner.stop(handle);
  }

  kill(runnerId: string): boolean {
    return this.inner.kill(runnerId);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Prints `bursts` bursts of `lines` lines (300 ms apart), each after `quiet`
 * ms of silence: every silence outlasts the proxy's timeouts, so it cuts the
 * log follow each time. Returns the runner's id.
 */
async function chatter(
  this: CallContext,
  marker: string,
  bursts: number,
  lines: number,
  quiet: number,
): Promise<string> {
  let n = 0;
  for (let burst = 0; burst < bursts; burst++) {
    await new Promise((r) => setTimeout(r, quiet));
    for (let line = 0; line < lines; line++) {
      if (line > 0) await new Promise((r) => setTimeout(r, 300));
      console.log(`${marker} ${++n}`);
    }
  }
  return this.runnerId;
}

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name:
    "[docker] behind HAProxy (timeout server 2s), a runner that lives past several cuts reports all its last log lines, in order, once",
  ignore: ignoreWithoutDocker || (!haproxyAvailable && !DOCKER_REQUIRED),
  fn: async () => {
    assert.ok(
      haproxyAvailable,
      "haproxy is not installed (FLAME_REQUIRE_DOCKER=1 requires this test): apt-get install haproxy",
    );
    await ensureTestImage();
    const name = `t-docker-proxy-${crypto.randomUUID().slice(0, 8)}`;
    const network = await TestNetwork.create("proxy");
    let front: HaproxyFront | undefined;
    let pool: Pool | undefined;
    let proxyLog = "";
    try {
      front = await HaproxyFront.start();
      const backend = new HandleKeepingBackend({
        image: TEST_IMAGE,
        network: network.name,
        dockerSocketPath: front.path,
      });
      pool = new Pool({ backend, name, max: 1 });
      const marker = `proxy-line-${crypto.randomUUID().slice(0, 8)}`;
      const bursts = 3;
      const lines = 3;
      const quiet = PROXY_TIMEOUT + 500;
      const runnerId = await pool.call(chatter, [marker, bursts, lines, quiet]);
      // Quiet once more: the follow is cut after the last line too, and resumed.
      await sleep(quiet);
      assert.ok(backend.kill(runnerId), `runner "${runnerId}" is not the backend's`);
      const handle = backend.handles.get(runnerId);
      assert.ok(handle, `no handle for runner "${runnerId}"`);
      const how = await within(handle.exited, 15_000, `the exit of runner "${runnerId}"`);
      await pool.close();
      pool = undefined;
      proxyLog = await front.stop();
      front = undefined;

      const [head, ...tail] = how.split("\n");
      assert.match(head!, /; last log lines:$/, how);
      const expected = Array.from({ length: bursts * lines }, (_, i) => `${marker} ${i + 1}`);
      assert.deepEqual(tail.filter((l) => l.startsWith(marker)), expected, how);
      assert.equal(new Set(tail).size, tail.length, `a line repeated in:\n${how}`);
      // The exit code too, though the proxy cut the wait as often as the follow.
      // (Removed before a renewed wait came, the exit code is read from the engine's events.)
      assert.match(
        head!,
        /^container exited with code 137( \(and was removed\))?; last log lines:$/,
        `the wait, cut by the proxy, was not renewed through the runner's stop: ${head}`,
      );
      // The cuts did happen: the follow was asked for again after each silence.
      const requests = proxyLog.split("\n");
      const follows = requests.filter((l) => /\/logs\?[^ ]*follow=1/.test(l));
      const waits = requests.filter((l) => /\/wait\?/.test(l));
      console.log(
        `  proxy: ${follows.length} log follows, ${waits.length} waits, ${tail.length} tail lines`,
      );
      assert.ok(
        follows.length >= bursts + 1,
        `expected at least ${bursts + 1} log follows through the proxy, saw ${follows.length}:\n${
          follows.join("\n")
        }`,
      );
    } finally {
      await pool?.close().catch(() => {});
      await front?.stop().catch(() => {});
      // AutoRemove may still be under way: wait briefly, then remove whatever is left.
      const clean = await waitForAsync(
        async () => (await containersOfPool(name)).length === 0,
        5000,
      );
      const left = await containersOfPool(name).catch(() => [] as string[]);
      if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
      await network.remove();
      assert.ok(clean, `containers left behind by pool "${name}": ${left.join(", ")}`);
    }
  },
});
