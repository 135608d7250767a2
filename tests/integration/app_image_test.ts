/**
 * `deno task app-image`: one image for a user's own app, built offline (FROM
 * scratch, the local Deno, `docker build --network none`), that serves as the
 * parent and as its runners. examples/app runs from it Docker-out-of-Docker
 * as the README's deployment says; an app outside the repository, with its own
 * deno.json, gets a runner CMD that resolves through its imports. Each test
 * removes what it made, the images it built included.
 */

import assert from "node:assert/strict";
import {
  docker,
  ignoreWithoutDocker,
  parentOutcome,
  runParentContainer,
  TestNetwork,
} from "../_helpers/docker.ts";

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** Runs `deno task app-image …` from the repository, bounded; returns its output or throws with it. */
async function appImage(args: string[]): Promise<{ ok: boolean; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "app-image", ...args],
    cwd: root,
    env: { DENO_BIN: Deno.env.get("DENO_BIN") ?? Deno.execPath() },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(300_000),
  }).output();
  const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, output };
}

/** The image's id, or `undefined` once it is gone. */
const imageId = (ref: string) =>
  docker("image", "inspect", "--format", "{{.Id}}", ref).catch(() => undefined);

/** Removes `tag` and checks nothing of it is left. */
async function removeImage(tag: string): Promise<void> {
  const id = await imageId(tag);
  await docker("rmi", "-f", tag).catch(() => {});
  if (id !== undefined) assert.equal(await imageId(id), undefined, `image ${id} left behind`);
}

const uniqueTag = (name: string) => `flame-test-${name}:${crypto.randomUUID().slice(0, 8)}`;

Deno.test({
  name: "app-image builds examples/app into one image that runs as parent and runners (DooD)",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const tag = uniqueTag("app");
    let network: TestNetwork | undefined;
    try {
      const built = await appImage([
        "--dir",
        root,
        "--entry",
        "examples/app/main.ts",
        "--tag",
        tag,
        "--cache",
        "examples/app/jobs.ts",
        "--exclude",
        "./.build",
        "--exclude",
        "./node_modules",
      ]);
      assert.ok(built.ok, built.output);
      const config = JSON.parse(
        await docker("image", "inspect", "--format", "{{json .Config}}", tag),
      );
      assert.deepEqual(config.Cmd, [
        "/usr/local/bin/deno",
        "run",
        "--allow-all",
        "--cached-only",
        "@flame/docker/runner",
      ]);
      assert.equal(config.WorkingDir, "/app");
      assert.equal(config.Labels["dev.flame-docker.image"], "app");

      // The README's deployment: a stable --name, the socket mounted, a user-defined network.
      network = await TestNetwork.create("app");
      const parent = `${network.name}-parent`;
      await runParentContainer(parent, network.name, [
        "deno",
        "run",
        "--allow-all",
        "--cached-only",
        "examples/app/main.ts",
      ], { image: tag });
      const { code, logs, result } = await parentOutcome(parent, 120_000);
      assert.equal(code, "0", `parent failed:\n${logs}`);
      assert.ok(result, logs);
      assert.deepEqual(
        (result.found as { count: number }[]).map((f) => f.count),
        [2262, 4203, 6057, 7837],
      );
      assert.deepEqual(result.countdown, [3, 2, 1]);
      assert.match(result.hostname as string, new RegExp(`^${parent}-flame-[0-9a-f]{20}$`));
      assert.equal((result.stats as { bootFailures: number }).bootFailures, 0);
      assert.deepEqual(await network.containers(true), [], "runner containers left behind");
    } finally {
      await network?.remove();
      await removeImage(tag);
    }
  },
});

Deno.test({
  name: "app-image: an app outside the repository gets a runner CMD resolved through its deno.json",
  ignore: ignoreWithoutDocker,
  fn: async () => {
    const tag = uniqueTag("vendored");
    const app = await Deno.makeTempDir({ prefix: "flame-app-" });
    try {
      // A user's app with the library vendored and mapped in its own deno.json.
      const lib = `${app}/vendor/flame-docker`;
      await Deno.mkdir(lib, { recursive: true });
      for (const file of ["mod.ts", "runner.ts", "deno.json"]) {
        await Deno.copyFile(`${root}/${file}`, `${lib}/${file}`);
      }
      const copied = await new Deno.Command("cp", { args: ["-r", `${root}/src`, lib] }).output();
      assert.ok(copied.success);
      for (const file of ["main.ts", "jobs.ts"]) {
        await Deno.copyFile(`${root}/examples/app/${file}`, `${app}/${file}`);
      }
      await Deno.writeTextFile(
        `${app}/deno.json`,
        JSON.stringify({
          imports: {
            "@flame/docker": "./vendor/flame-docker/mod.ts",
            "@flame/docker/runner": "./vendor/flame-docker/runner.ts",
          },
        }),
      );
      const built = await appImage(["--dir", app, "--entry", "main.ts", "--tag", tag]);
      assert.ok(built.ok, built.output);
      const version = await docker(
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        "--label",
        "dev.flame-docker.test",
        tag,
        "deno",
        "run",
        "--allow-all",
        "--cached-only",
        "@flame/docker/runner",
        "--version",
      );
      assert.equal(version, JSON.parse(await Deno.readTextFile(`${root}/deno.json`)).version);
    } finally {
      await removeImage(tag);
      await Deno.remove(app, { recursive: true });
    }
  },
});

Deno.test("app-image says what is wrong before building anything", async () => {
  const missing = await appImage(["--tag", "flame-test-never:x"]);
  assert.ok(!missing.ok);
  assert.match(missing.output, /--entry is required/);
  assert.match(missing.output, /Usage: build_app_image\.sh --entry FILE --tag TAG/);

  const absent = await appImage([
    "--dir",
    root,
    "--entry",
    "nope.ts",
    "--tag",
    "flame-test-never:x",
  ]);
  assert.match(
    absent.output,
    /the entry "nope\.ts" is not a file in \/.*\(--entry is relative to --dir\)/,
  );

  // examples/app alone has no deno.json mapping @flame/docker: the import cannot resolve.
  const unmapped = await appImage([
    "--dir",
    `${root}/examples/app`,
    "--entry",
    "main.ts",
    "--tag",
    "flame-test-never:x",
  ]);
  assert.ok(!unmapped.ok);
  assert.match(
    unmapped.output,
    /cannot load "\.\/main\.ts" as the app would import it: .*imports "@flame\/docker"/,
  );
  assert.match(unmapped.output, /Map "@flame\/docker" in the app's deno\.json "imports"/);
  assert.equal(await imageId("flame-test-never:x"), undefined);
});
