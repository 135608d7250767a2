/**
 * Builds the npm package from the same sources as the JSR one (`deno task npm`):
 * every module compiled by `tsc` to ESM `.js` plus `.d.ts` beside it (so each
 * module exists once, `instanceof` holds across entry points, and
 * ProcessBackend's default runner, `runner.js`, sits where `import.meta.url`
 * says), a `package.json` whose `exports` are deno.json's, the `flame-docker`
 * command (`npm/bin.ts`), and the `deno` npm package as a dependency, which
 * gives runners and the CLI a Deno. Then it checks the declarations as a Node.js
 * user's strict `tsc` sees them (no Deno types) and packs the tarball.
 *
 * ```sh
 * deno task npm [--out DIR]     # prints the tarball's path on its last line
 * ```
 *
 * `typescript` and `@types/node` come from the npm registry (pinned, installed
 * once under `.build/npm-tools/`); Deno's own types (`deno types`) are used at
 * build time only.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** The Deno the package depends on: the one this repository is tested with. */
const DENO_VERSION = "2.9.6";
const TYPESCRIPT_VERSION = "6.0.3";
const TYPES_NODE_VERSION = "24.19.4";
/** The lowest Node.js the parent side supports (`process.getBuiltinModule`: 20.16). */
const NODE_ENGINE = ">=20.16";

const root = new URL("../", import.meta.url).pathname;
const tools = `${root}.build/npm-tools`;

/** Runs a command; throws with its output when it fails or outlives `timeout` ms. */
async function run(
  command: string,
  args: string[],
  options: { cwd?: string; timeout: number },
): Promise<string> {
  const out = await new Deno.Command(command, {
    args,
    cwd: options.cwd ?? root,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeout),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const how = out.signal
      ? `was killed (${out.signal}; limit ${options.timeout} ms)`
      : `exited ${out.code}`;
    throw new Error(
      `Cannot build the npm package: ${command} ${args.join(" ")} ${how}:\n${text}${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return text;
}

async function installedVersion(name: string): Promise<string | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(`${tools}/node_modules/${name}/package.json`))
      .version;
  } catch {
    return undefined;
  }
}

/** Installs the pinned build tools once; a lock keeps concurrent builds from racing. */
async function ensureTools(): Promise<void> {
  await Deno.mkdir(tools, { recursive: true });
  using lock = await Deno.open(`${tools}.lock`, { create: true, write: true });
  await lock.lock(true);
  if (
    await installedVersion("typescript") === TYPESCRIPT_VERSION &&
    await installedVersion("@types/node") === TYPES_NODE_VERSION
  ) return;
  console.error(
    `npm: installing typescript@${TYPESCRIPT_VERSION} @types/node@${TYPES_NODE_VERSION}`,
  );
  await run("npm", [
    "install",
    "--prefix",
    tools,
    "--no-save",
    "--no-audit",
    "--no-fund",
    "--no-package-lock",
    `typescript@${TYPESCRIPT_VERSION}`,
    `@types/node@${TYPES_NODE_VERSION}`,
  ], { timeout: 300_000 });
}

function tsc(project: string): Promise<string> {
  return run("node", [`${tools}/node_modules/typescript/bin/tsc`, "-p", project], {
    timeout: 300_000,
  });
}

const jsOf = (path: string) => path.replace(/\.ts$/, ".js");
const dtsOf = (path: string) => path.replace(/\.ts$/, ".d.ts");

/** `package.json`: deno.json's name, version, license and exports, for Node.js. */
function packageJson(config: {
  name: string;
  version: string;
  license: string;
  exports: Record<string, string>;
}): Record<string, unknown> {
  const exports: Record<string, unknown> = {};
  for (const [key, path] of Object.entries(config.exports)) {
    exports[key] = { types: dtsOf(path), default: jsOf(path) };
  }
  exports["./package.json"] = "./package.json";
  return {
    name: config.name,
    version: config.version,
    description:
      "The FLAME pattern for TypeScript: pool.call(fn) runs on short-lived runners (Docker containers or Deno subprocesses)",
    license: config.license,
    type: "module",
    engines: { node: NODE_ENGINE },
    exports,
    main: jsOf(config.exports["."]!),
    types: dtsOf(config.exports["."]!),
    bin: { "flame-docker": "./npm/bin.js" },
    dependencies: { deno: DENO_VERSION },
    keywords: ["flame", "docker", "serverless", "workers", "deno"],
  };
}

/** Type-checks the entry points from a Node.js project: strict, no Deno types, no skipLibCheck. */
async function checkDeclarations(stage: string, pkg: string, name: string): Promise<void> {
  const dir = `${stage}/check`;
  const [scope, base] = name.split("/");
  await Deno.mkdir(`${dir}/node_modules/${scope}`, { recursive: true });
  await Deno.symlink(pkg, `${dir}/node_modules/${scope}/${base}`);
  await Deno.writeTextFile(`${dir}/package.json`, JSON.stringify({ type: "module" }));
  await Deno.writeTextFile(
    `${dir}/tsconfig.json`,
    JSON.stringify({
      compilerOptions: {
        strict: true,
        exactOptionalPropertyTypes: true,
        module: "nodenext",
        target: "ES2022",
        lib: ["ES2022"],
        types: ["node"],
        typeRoots: [`${tools}/node_modules/@types`],
        skipLibCheck: false,
        noEmit: true,
      },
      files: ["check.ts"],
    }),
  );
  const entries = Object.keys(packageJson(await denoJson()).exports as object)
    .filter((key) => key !== "./package.json")
    .map((key, i) => `import * as entry${i} from "${name}${key.slice(1)}";`);
  await Deno.writeTextFile(
    `${dir}/check.ts`,
    `${entries.join("\n")}\nexport const entries = [${entries.map((_, i) => `entry${i}`)}];\n`,
  );
  await tsc(`${dir}/tsconfig.json`);
  // Deno's namespace must not leak into what a Node.js user type-checks.
  for await (const file of walk(pkg)) {
    if (!file.endsWith(".d.ts")) continue;
    const code = (await Deno.readTextFile(file)).replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    if (/\bDeno\./.test(code)) {
      throw new Error(
        `Cannot build the npm package: ${file.slice(pkg.length + 1)} refers to Deno's types`,
      );
    }
  }
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile) yield path;
  }
}

async function denoJson(): Promise<
  { name: string; version: string; license: string; exports: Record<string, string> }
> {
  return JSON.parse(await Deno.readTextFile(`${root}deno.json`));
}

/**
 * Builds and packs the package.
 *
 * @param out Where the tarball goes.
 * @returns The tarball's path.
 */
export async function buildNpmPackage(out: string): Promise<string> {
  const config = await denoJson();
  await ensureTools();
  await Deno.mkdir(`${root}.build`, { recursive: true });
  const stage = await Deno.makeTempDir({ dir: `${root}.build`, prefix: "npm-" });
  try {
    const pkg = `${stage}/package`;
    await Deno.writeTextFile(
      `${stage}/deno.d.ts`,
      await run(Deno.execPath(), ["types"], {
        timeout: 60_000,
      }),
    );
    await Deno.writeTextFile(
      `${stage}/tsconfig.json`,
      JSON.stringify({
        extends: `${root}npm/tsconfig.json`,
        compilerOptions: { outDir: pkg, typeRoots: [`${tools}/node_modules/@types`] },
        files: [`${stage}/deno.d.ts`],
      }),
    );
    await tsc(`${stage}/tsconfig.json`);
    await Deno.chmod(`${pkg}/npm/bin.js`, 0o755);
    await Deno.remove(`${pkg}/npm/bin.d.ts`); // a command, not a module to import
    await Deno.writeTextFile(
      `${pkg}/package.json`,
      JSON.stringify(packageJson(config), null, 2) + "\n",
    );
    for (const file of ["README.md", "LICENSE"]) {
      await Deno.copyFile(`${root}${file}`, `${pkg}/${file}`);
    }
    await checkDeclarations(stage, pkg, config.name);
    await Deno.mkdir(out, { recursive: true });
    const packed = JSON.parse(
      await run("npm", ["pack", "--json", "--pack-destination", out, pkg], { timeout: 120_000 }),
    )[0] as { filename: string; size: number; unpackedSize: number; entryCount: number };
    console.error(
      `npm: ${packed.filename}: ${packed.entryCount} files, ${
        (packed.size / 1024).toFixed(0)
      } KiB ` +
        `packed, ${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked`,
    );
    return `${out}/${packed.filename}`;
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { out: { type: "string" } } });
  const out = values.out === undefined ? `${root}.build/npm` : await Deno.realPath(values.out)
    .catch(() => values.out!);
  console.log(await buildNpmPackage(out));
}
