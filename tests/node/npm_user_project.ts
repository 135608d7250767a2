/**
 * The Node.js project npm_package_test.ts writes to a temp dir outside the
 * repository: what a Node.js user of the npm package would write, with the
 * README's API. Its TypeScript is Node's (`.js` import specifiers, no Deno
 * types), so it is kept here as text: `deno check` cannot resolve it, the
 * project's own strict `tsc` checks it.
 *
 * @module
 */

/** `tsconfig.json`: strict, Node.js types only, every declaration checked (no skipLibCheck). */
const tsconfig = {
  compilerOptions: {
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    module: "nodenext",
    target: "ES2022",
    lib: ["ES2022"],
    types: ["node"],
    skipLibCheck: false,
    rootDir: "src",
    outDir: "dist",
  },
  include: ["src"],
};

/** A module the pool calls with `pool.module()`; the Deno runner imports the compiled file. */
const jobs = `import type { CallContext } from "@flame/docker";

export function shout(this: CallContext, text: string): string {
  return \`\${text.toUpperCase()} from \${this.runnerId}\`;
}

export async function* count(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}
`;

/**
 * The program: a ProcessBackend pool with the default runner (its Deno comes
 * from the package's `deno` dependency), module calls and a stream; then, when
 * FLAME_IMAGE and FLAME_NETWORK are set, a DockerBackend pool whose runner the
 * CLI's `ps` (through npx) lists. Prints one JSON line.
 */
const main = `import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { BootError, type CallContext, DockerBackend, Pool, ProcessBackend } from "@flame/docker";
import { DockerClient } from "@flame/docker/docker";
import type * as Jobs from "./jobs.js";

const results: Record<string, unknown> = {};
{
  await using pool = new Pool({ name: "npm-user", backend: new ProcessBackend(), max: 2 });
  results.sum = await pool.call((a: number, b: number) => a + b, [1, 2]);
  results.runnerId = await pool.call(function (this: CallContext) {
    return this.runnerId;
  });
  results.onDeno = await pool.call(() => "Deno" in globalThis);
  const jobs = pool.module<typeof Jobs>(import.meta.resolve("./jobs.js"));
  results.shout = await jobs.shout("node");
  const counted: number[] = [];
  for await (const n of jobs.count(3)) counted.push(n);
  results.counted = counted;
}
{
  const backend = new ProcessBackend({ runner: "/nonexistent/flame/runner.js" });
  await using pool = new Pool({ name: "npm-missing-runner", backend, max: 1 });
  results.missingRunner = await pool.call(() => 1).then(
    () => "no error",
    (e: unknown) => (e instanceof BootError ? e.message : String(e)),
  );
}
const image = process.env.FLAME_IMAGE;
const network = process.env.FLAME_NETWORK;
if (image !== undefined && network !== undefined) {
  await using client = new DockerClient();
  results.apiVersion = (await client.version()).ApiVersion;
  const name = \`npm-docker-\${process.pid}\`;
  await using pool = new Pool({ name, backend: new DockerBackend({ image, network }), max: 1 });
  results.dockerHostname = await pool.call(async () => (await import("node:os")).hostname());
  const ps = await promisify(execFile)("npx", ["--no", "flame-docker", "ps", "--json", "--pool", name], {
    timeout: 60_000,
  });
  results.ps = JSON.parse(ps.stdout);
}
console.log(JSON.stringify(results));
`;

/** Run with the package's `deno` dependency moved away: the error says where it looked. */
const noDeno = `import { BootError, Pool, ProcessBackend } from "@flame/docker";

await using pool = new Pool({ name: "npm-no-deno", backend: new ProcessBackend(), max: 1 });
const message = await pool.call(() => 1).then(
  () => "no error",
  (e: unknown) => (e instanceof BootError ? e.message : String(e)),
);
console.log(JSON.stringify({ message }));
`;

/** The project's files, by path. */
export const NPM_USER_PROJECT: Record<string, string> = {
  "package.json": JSON.stringify({ name: "flame-npm-user", private: true, type: "module" }),
  "tsconfig.json": JSON.stringify(tsconfig, null, 2),
  "src/jobs.ts": jobs,
  "src/main.ts": main,
  "src/no_deno.ts": noDeno,
};
