/**
 * Picks the demo's backend: Docker when an engine answers (building the local
 * runner image and an internal network for the demo), else subprocesses.
 *
 * @module
 */

import { type Backend, DockerBackend, ProcessBackend } from "../mod.ts";
import { DockerClient } from "../src/docker/mod.ts";

/** The chosen backend, a sentence saying why, and what to clean up after. */
export interface DemoBackend {
  /** The backend. */
  backend: Backend;
  /** What was chosen and why. */
  description: string;
  /** Removes what the demo created (the Docker network). */
  cleanup: () => Promise<void>;
}

/** The image the demo runs (the local test runner image recipe). */
export const DEMO_IMAGE = "flame-docker-runner:test";

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
      env: { DENO_BIN: Deno.execPath() },
    }).output();
    const text = new TextDecoder().decode(out.success ? out.stdout : out.stderr).trim();
    return { ok: out.success, out: text };
  } catch (err) {
    return { ok: false, out: (err as Error).message };
  }
}

/**
 * Chooses the demo backend.
 *
 * @param say Progress output.
 * @returns The backend.
 */
export async function chooseDemoBackend(say: (msg: string) => void): Promise<DemoBackend> {
  const processBackend = (why: string): DemoBackend => ({
    backend: new ProcessBackend(),
    description: `process (each runner a \`deno run runner.ts\` subprocess): ${why}`,
    cleanup: () => Promise.resolve(),
  });
  if (Deno.env.get("FLAME_DEMO_BACKEND") === "process") {
    return processBackend("FLAME_DEMO_BACKEND=process");
  }
  await using client = new DockerClient();
  try {
    await client.ping({ timeout: 2000 });
  } catch {
    return processBackend("no Docker engine answered");
  }
  try {
    await client.imageInspect(DEMO_IMAGE, { timeout: 5000 });
  } catch {
    say(`building the runner image ${DEMO_IMAGE} (deno task image)...`);
    const root = new URL("../", import.meta.url).pathname;
    const built = await run("bash", [`${root}docker/build_test_image.sh`, DEMO_IMAGE]);
    if (!built.ok) return processBackend(`the runner image could not be built: ${built.out}`);
  }
  const network = `flame-demo-${crypto.randomUUID().slice(0, 8)}`;
  const created = await run("docker", ["network", "create", "--internal", network]);
  if (!created.ok) return processBackend(`cannot create a network: ${created.out}`);
  return {
    backend: new DockerBackend({ image: DEMO_IMAGE, network, app: "demo" }),
    description: `docker (runner containers from ${DEMO_IMAGE} on internal network ${network})`,
    cleanup: async () => {
      await run("docker", ["network", "rm", network]);
    },
  };
}
