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

/** The locally built runner image (`deno task image`). */
export const TEST_IMAGE: string = Deno.env.get("FLAME_TEST_IMAGE") ??
  "flame-docker-runner:test";

/** Label put on everything a test creates, so leftovers can be found. */
export const TEST_LABEL = "dev.flame-docker.test";

async function probe(): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path: DOCKER_SOCKET });
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
export const dockerAvailable: boolean = await probe();

/** Pass as `ignore` to `Deno.test`: true only when Docker is absent and not required. */
export const ignoreWithoutDocker: boolean = !dockerAvailable && !DOCKER_REQUIRED;

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

let imageReady: Promise<void> | undefined;

/** Builds the test runner image when it is missing (once per test process). */
export function ensureTestImage(): Promise<void> {
  imageReady ??= (async () => {
    try {
      await docker("image", "inspect", "--format", "{{.Id}}", TEST_IMAGE);
    } catch {
      const root = new URL("../../", import.meta.url).pathname;
      const out = await new Deno.Command("bash", {
        args: [`${root}docker/build_test_image.sh`, TEST_IMAGE],
        env: { DENO_BIN: Deno.env.get("DENO_BIN") ?? Deno.execPath() },
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new Error(`Cannot build test image: ${new TextDecoder().decode(out.stderr)}`);
      }
    }
  })();
  return imageReady;
}
