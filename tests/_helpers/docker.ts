/**
 * Shared facts for tests that need a Docker engine.
 *
 * Locally, a test that needs Docker is shown as ignored when no engine answers.
 * In CI (`FLAME_REQUIRE_DOCKER=1`) it runs anyway and fails, so a skip can
 * never pass for a success there.
 */

/** Set by `.ci/run`: Docker tests must run. */
export const DOCKER_REQUIRED: boolean = Deno.env.get("FLAME_REQUIRE_DOCKER") === "1";

/** The socket the tests talk to. */
export const DOCKER_SOCKET: string = Deno.env.get("FLAME_TEST_DOCKER_SOCKET") ??
  "/var/run/docker.sock";

/** Label put on everything a test creates, so leftovers can be found. */
export const TEST_LABEL = "dev.flame-docker.test";

/** Whether an engine answers `GET /_ping` on the unix socket `socket` (a raw request: no client code involved). */
export async function engineAnswers(socket: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path: socket });
    try {
      await conn.write(
        new TextEncoder().encode(
          "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
        ),
      );
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      return new TextDecoder().decode(buf.subarray(0, n ?? 0)).startsWith("HTTP/1.1 200");
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

/** Whether an engine answered `/_ping` when the test module loaded. */
export const dockerAvailable: boolean = await engineAnswers(DOCKER_SOCKET);

/** Pass as `ignore` to `Deno.test`: true only when Docker is absent and not required. */
export const ignoreWithoutDocker: boolean = !dockerAvailable && !DOCKER_REQUIRED;

async function buildScript(...args: string[]): Promise<string> {
  const root = new URL("../../", import.meta.url).pathname;
  const out = await new Deno.Command("bash", {
    args: [`${root}docker/build_test_image.sh`, ...args],
    env: { DENO_BIN: Deno.env.get("DENO_BIN") ?? Deno.execPath() },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`docker/build_test_image.sh failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * The runner image the tests use: `FLAME_TEST_IMAGE`, else one tagged by the
 * id of these sources (`flame-docker-runner:src-<id>`), so checkouts sharing an
 * engine never replace each other's image mid-run.
 */
export const TEST_IMAGE: string = Deno.env.get("FLAME_TEST_IMAGE") ??
  (ignoreWithoutDocker ? "flame-docker-runner:test" : await buildScript("--test-tag"));

let imageReady: Promise<void> | undefined;

/**
 * Builds the test runner image when it is missing or stale, once per test
 * module (`build_test_image.sh --ensure`: a lock keeps concurrent modules from
 * building it twice; it removes only this checkout's own src- images, once
 * unused for an hour).
 */
export function ensureTestImage(): Promise<void> {
  imageReady ??= buildScript("--ensure", TEST_IMAGE).then(() => {});
  return imageReady;
}

/** Runs the docker CLI; returns trimmed stdout, throws with stderr on failure. */
export async function docker(...args: string[]): Promise<string> {
  const out = await new Deno.Command("docker", { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(
      `docker ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return text;
}

/** An internal, labelled test network; `remove()` also removes whatever is still attached. */
export class TestNetwork {
  /** The network's name. */
  readonly name: string;

  private constructor(name: string) {
    this.name = name;
  }

  /** Creates `flame-<prefix>-<random>` with `--internal` (no route out) and the test label. */
  static async create(prefix: string): Promise<TestNetwork> {
    const name = `flame-${prefix}-${crypto.randomUUID().slice(0, 8)}`;
    await docker("network", "create", "--internal", "--label", TEST_LABEL, name);
    return new TestNetwork(name);
  }

  /** A network made by someone else (e.g. compose), to list and remove what is attached. */
  static of(name: string): TestNetwork {
    return new TestNetwork(name);
  }

  /** Containers attached to it, in every state (only runner containers with `runnersOnly`). */
  async containers(runnersOnly = false): Promise<string[]> {
    const filters = ["--filter", `network=${this.name}`];
    if (runnersOnly) filters.push("--filter", "label=dev.flame-docker=runner");
    const out = await docker("ps", "-a", "-q", ...filters).catch(() => "");
    return out === "" ? [] : out.split("\n");
  }

  /** Removes every container still attached (unpausing first), then the network. */
  async remove(): Promise<void> {
    for (const id of await this.containers()) {
      await docker("unpause", id).catch(() => {});
      await docker("rm", "-f", id).catch(() => {});
    }
    await docker("network", "rm", this.name).catch(() => {});
  }
}

/** Runner containers of a pool (by the project and pool labels), in every state. */
export async function containersOfPool(pool: string): Promise<string[]> {
  const out = await docker(
    "ps",
    "-a",
    "-q",
    "--filter",
    "label=dev.flame-docker=runner",
    "--filter",
    `label=dev.flame-docker.pool=${pool}`,
  );
  return out === "" ? [] : out.split("\n");
}

/**
 * Runs the test image (or `options.image`) as a parent container on `network`
 * with the engine socket mounted, named `name` (or, with `unnamed`, left to
 * the engine's generated name), with `env` added; returns its id.
 */
export async function runParentContainer(
  name: string,
  network: string,
  command: string[],
  options: { image?: string; unnamed?: boolean; env?: Record<string, string> } = {},
): Promise<string> {
  return await docker(
    "run",
    "-d",
    "--pull",
    "never",
    ...(options.unnamed ? [] : ["--name", name]),
    ...Object.entries(options.env ?? {}).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
    "--label",
    TEST_LABEL,
    "--network",
    network,
    "-v",
    `${DOCKER_SOCKET}:/var/run/docker.sock`,
    options.image ?? TEST_IMAGE,
    ...command,
  );
}

/**
 * Waits for a parent container to exit; returns its exit code, its logs and its
 * last JSON line. One still running after `timeout` ms is removed, and the
 * error carries its logs.
 */
export async function parentOutcome(
  name: string,
  timeout = 180_000,
): Promise<{ code: string; logs: string; result: Record<string, unknown> | undefined }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), timeout);
  });
  const waited = docker("wait", name);
  const first = await Promise.race([waited, expired]);
  clearTimeout(timer);
  if (first === "expired") {
    const logs = await docker("logs", name).catch((e) => String(e));
    await docker("rm", "-f", name).catch(() => {});
    await waited.catch(() => {});
    throw new Error(`Parent container "${name}" still ran after ${timeout} ms; its logs:\n${logs}`);
  }
  const code = first;
  const logs = await docker("logs", name);
  const last = logs.split("\n").filter((l) => l.startsWith("{")).pop();
  return { code, logs, result: last === undefined ? undefined : JSON.parse(last) };
}

/**
 * Creates an internal test network shared by a whole test file. The file's last
 * test should remove it; when a filter skips that test, it is removed as the
 * test process exits.
 */
export async function createFileNetwork(name: string): Promise<void> {
  await docker("network", "create", "--internal", "--label", TEST_LABEL, name);
  globalThis.addEventListener("unload", () => {
    new Deno.Command("docker", { args: ["network", "rm", name], stdout: "null", stderr: "null" })
      .outputSync();
  });
}
