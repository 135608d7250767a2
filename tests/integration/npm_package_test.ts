/**
 * The npm package, used as a Node.js user would: `deno task npm` builds the
 * tarball; a fresh project in a temp dir outside the repository installs it
 * with npm (its `deno` dependency, `typescript` and `@types/node` from the
 * registry), type-checks a program using the README's API with strict `tsc`
 * (every declaration checked, no Deno types), and runs it with Node.js: a
 * ProcessBackend pool on the default runner with no Deno on PATH and no
 * DENO_BIN, `pool.module()` calls, a DockerBackend pool on a test network, and
 * the CLI's `ps` through npx. Everything it made is removed.
 */

import assert from "node:assert/strict";
import { NPM_USER_PROJECT } from "../node/npm_user_project.ts";
import {
  DOCKER_REQUIRED,
  DOCKER_SOCKET,
  dockerAvailable,
  ensureTestImage,
  TEST_IMAGE,
  TestNetwork,
} from "../_helpers/docker.ts";

const root = new URL("../../", import.meta.url).pathname;
/** What the Node.js user installs beside the package (pinned, from the npm registry). */
const TYPESCRIPT = "typescript@6.0.3";
const TYPES_NODE = "@types/node@20.19.43";

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command, bounded by `timeout` ms; throws with what it printed when it fails. */
async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeout: number },
): Promise<Ran> {
  const started = Date.now();
  const out = await new Deno.Command(command, {
    args,
    cwd: options.cwd ?? root,
    ...(options.env === undefined ? {} : { env: options.env, clearEnv: true }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeout),
  }).output();
  const ran = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (!out.success) {
    const how = out.signal !== null && Date.now() - started >= options.timeout
      ? `was stopped at its ${options.timeout} ms limit`
      : `exited with code ${out.code}${out.signal ? ` (${out.signal})` : ""}`;
    throw new Error(
      `${command} ${args.join(" ")} ${how}\n--- stdout\n${ran.stdout}\n--- stderr\n${ran.stderr}`,
    );
  }
  return ran;
}

async function nodeMajor(): Promise<number> {
  try {
    const out = await new Deno.Command("node", { args: ["--version"], stdout: "piped" }).output();
    return Number(new TextDecoder().decode(out.stdout).trim().replace(/^v/, "").split(".")[0]);
  } catch {
    return 0;
  }
}

const major = await nodeMajor();

/** This environment for Node.js and npm, with no Deno on PATH and no DENO_BIN. */
function nodeEnv(extra: Record<string, string>): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.DENO_BIN;
  env.PATH = (env.PATH ?? "").split(":").filter((dir) => {
    try {
      Deno.statSync(`${dir}/deno`);
      return false;
    } catch {
      return true;
    }
  }).join(":");
  if (DOCKER_SOCKET !== "/var/run/docker.sock") env.DOCKER_HOST = `unix://${DOCKER_SOCKET}`;
  return { ...env, ...extra };
}

Deno.test({
  name: "the npm package installs, type-checks and runs in a fresh Node.js project",
  // Node.js ≥ 20 is required in CI (where Docker is); elsewhere its absence shows as ignored.
  ignore: major < 20 && !DOCKER_REQUIRED,
  fn: async (t) => {
    const useDocker = dockerAvailable || DOCKER_REQUIRED;
    const tmp = await Deno.makeTempDir({ prefix: "flame-npm-" });
    const project = `${tmp}/project`;
    let network: TestNetwork | undefined;
    try {
      let tarball = "";
      await t.step("deno task npm builds the tarball", async () => {
        const built = await run(Deno.execPath(), ["task", "--quiet", "npm", "--out", tmp], {
          timeout: 600_000,
        });
        tarball = built.stdout.trim().split("\n").pop()!;
        assert.match(tarball, /\/flame-docker-\d+\.\d+\.\d+\.tgz$/);
        console.log(`    ${built.stderr.trim().split("\n").pop()}`);
      });

      await t.step("npm installs it with its deno dependency", async () => {
        for (const [path, text] of Object.entries(NPM_USER_PROJECT)) {
          await Deno.mkdir(`${project}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
          await Deno.writeTextFile(`${project}/${path}`, text);
        }
        await run("npm", [
          "install",
          "--no-audit",
          "--no-fund",
          "--loglevel=error",
          tarball,
          TYPESCRIPT,
          TYPES_NODE,
        ], { cwd: project, env: nodeEnv({}), timeout: 300_000 });
        const manifest = JSON.parse(
          await Deno.readTextFile(`${project}/node_modules/@flame/docker/package.json`),
        );
        assert.equal(manifest.dependencies.deno, "2.9.6");
        assert.deepEqual(Object.keys(manifest.exports), [
          ".",
          "./runner",
          "./docker",
          "./cli",
          "./package.json",
        ]);
      });

      await t.step("strict tsc type-checks the README's API against the declarations", async () => {
        await run("node", ["node_modules/typescript/bin/tsc", "-p", "."], {
          cwd: project,
          env: nodeEnv({}),
          timeout: 180_000,
        });
      });

      if (useDocker) {
        await ensureTestImage();
        network = await TestNetwork.create("npm");
      }

      await t.step(
        "Node.js runs pools on ProcessBackend and DockerBackend, and ps via npx",
        async () => {
          const ran = await run("node", ["dist/main.js"], {
            cwd: project,
            env: nodeEnv(
              network === undefined ? {} : { FLAME_IMAGE: TEST_IMAGE, FLAME_NETWORK: network.name },
            ),
            timeout: 180_000,
          });
          const results = JSON.parse(ran.stdout.trim().split("\n").pop()!);
          assert.equal(results.sum, 3);
          assert.match(results.runnerId, /^npm-user-/);
          assert.equal(results.onDeno, true);
          assert.match(results.shout, /^NODE from npm-user-/);
          assert.deepEqual(results.counted, [0, 1, 2]);
          assert.match(
            results.missingRunner,
            /the runner script "\/nonexistent\/flame\/runner\.js" does not exist \(ProcessBackend option "runner"\)/,
          );
          if (network !== undefined) {
            assert.match(results.apiVersion, /^1\.\d+$/);
            assert.match(results.dockerHostname, /-flame-[0-9a-f]{20}$/);
            assert.equal(results.ps.length, 1, JSON.stringify(results.ps));
            assert.equal(results.ps[0].name, results.dockerHostname);
            // Stopped by close(); the engine removes it (AutoRemove) moments later.
            const end = Date.now() + 10_000;
            while ((await network.containers(true)).length > 0 && Date.now() < end) {
              await new Promise((r) => setTimeout(r, 100));
            }
            assert.deepEqual(await network.containers(true), [], "runner containers left behind");
          }
        },
      );

      await t.step(
        "without any Deno, the error says where it looked and how to fix it",
        async () => {
          const deno = `${project}/node_modules/deno`;
          await Deno.rename(deno, `${deno}.away`);
          try {
            const ran = await run("node", ["dist/no_deno.js"], {
              cwd: project,
              env: nodeEnv({}),
              timeout: 60_000,
            });
            const { message } = JSON.parse(ran.stdout.trim().split("\n").pop()!);
            assert.match(
              message,
              /^Cannot boot runner "npm-no-deno-[0-9a-f]+": no Deno executable found/,
            );
            assert.match(message, /DENO_BIN: not set; no "deno" in PATH \(/);
            assert.match(message, /the "deno" npm package: not installed \(looked from /);
            assert.match(message, /npm install deno/);
          } finally {
            await Deno.rename(`${deno}.away`, deno);
          }
        },
      );
    } finally {
      await network?.remove();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
