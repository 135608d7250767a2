/**
 * Every exported error class keeps its name when bundled: bundles mod.ts and
 * src/docker/mod.ts with `deno bundle --platform node` into a temporary
 * directory, then, under Node.js, checks each class's `name`, its
 * constructor's name and how Node prints an instance (a class body that
 * names its own class becomes `_RemoteError` in a bundle, and Node printed that).
 */

import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

async function hasNode(): Promise<boolean> {
  try {
    return (await new Deno.Command("node", { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

const CHECK = `
import util from "node:util";
const failures = [];
const checked = [];
for (const path of process.argv.slice(2)) {
  const lib = await import(path);
  for (const [name, value] of Object.entries(lib)) {
    if (typeof value !== "function" || !(value.prototype instanceof Error)) continue;
    // Every constructor takes a message or a string first; the second argument
    // satisfies the classes that need options ({ size, limit }, { attempts }, …).
    const err = name === "RemoteError"
      ? new value({ name: "TypeError", message: "m" })
      : new value("m", { status: 500, engineMessage: "m", method: "GET", path: "/", attempts: [], size: 2, limit: 1 });
    const printed = util.inspect(err).split("\\n")[0];
    checked.push(name);
    if (err.name !== name) failures.push(name + ": name is " + JSON.stringify(err.name));
    if (value.name !== name) failures.push(name + ": constructor name is " + JSON.stringify(value.name));
    if (!printed.startsWith(name + ":")) failures.push(name + ": printed as " + JSON.stringify(printed));
    if (!String(err).startsWith(name + ":")) failures.push(name + ": String() is " + JSON.stringify(String(err)));
  }
}
console.log(JSON.stringify({ checked, failures }));
`;

Deno.test({
  name: "every exported error class keeps its name in a Node bundle",
  ignore: !(await hasNode()),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "flame-error-names-" });
    try {
      const bundles: string[] = [];
      for (const entry of ["mod.ts", "src/docker/mod.ts"]) {
        const out = `${dir}/${entry.replaceAll("/", "_")}.mjs`;
        const built = await new Deno.Command(Deno.execPath(), {
          args: ["bundle", "--quiet", "--platform", "node", "-o", out, `${root}${entry}`],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(built.success, new TextDecoder().decode(built.stderr));
        bundles.push(out);
      }
      await Deno.writeTextFile(`${dir}/check.mjs`, CHECK);
      const run = await new Deno.Command("node", {
        args: [`${dir}/check.mjs`, ...bundles],
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).output();
      assert.ok(run.success, new TextDecoder().decode(run.stderr));
      const { checked, failures } = JSON.parse(new TextDecoder().decode(run.stdout));
      assert.deepEqual(failures, []);
      const expected = [
        "AbortError",
        "BootError",
        "CodeSyncError",
        "DataCloneError",
        "DockerConnectionError",
        "DockerError",
        "DockerProtocolError",
        "PayloadTooLargeError",
        "PoolClosedError",
        "ProtocolError",
        "RemoteError",
        "RunnerExitedError",
        "TimeoutError",
      ];
      for (const name of expected) assert.ok(checked.includes(name), `${name} was not checked`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
