/**
 * Code sync on the parent (`code: "sync"`): each module a pool calls is
 * built, with its local files and its npm/JSR dependencies, into one ES
 * module by Deno's own bundler (`deno bundle --platform deno`), addressed by
 * the SHA-256 of its bytes. The build is cached; before it is used again
 * (at most once per {@linkcode FRESH_CHECK_MS}, and at every boot) the
 * local files of its graph are stat'ed, and a change rebuilds it.
 *
 * A shipped function's `import("./x.ts")` of a relative literal is resolved
 * against the file that called the pool, built the same way, and rewritten
 * to the artifact's `flame-code:<hash>` specifier, which the runner maps to
 * its stored copy.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { CodeSyncError } from "../errors.ts";
import { cwd, findDeno, isDeno, spawn } from "../runtime.ts";

/** How often a cached artifact's files are checked for changes, at most. */
export const FRESH_CHECK_MS = 1000;
/** The longest a build may take before it is given up. */
export const BUILD_TIMEOUT_MS = 120_000;
/** The artifact size limit by default (`codeLimit`). */
export const DEFAULT_CODE_LIMIT = 64 << 20;

/** One built module. */
export interface Artifact {
  /** The module as called (absolute URL). */
  readonly specifier: string;
  /** SHA-256 of `bytes`, hex. */
  readonly hash: string;
  /** The bundled ES module. */
  readonly bytes: Uint8Array;
  /** Milliseconds the build took. */
  readonly buildMs: number;
  /** Local files of its graph, with what they were when built (`mtime:size`). */
  readonly files: ReadonlyMap<string, string>;
}

/** Told of each new build (for events, and to retire runners holding older code). */
export type BuildReport = (artifact: Artifact) => void;

interface Entry {
  artifact: Artifact;
  checkedAt: number;
}

const RELATIVE_IMPORT = /\bimport\s*\(\s*(["'])(\.\.?\/[^"'\n]+)\1\s*\)/g;

/** The absolute URL of `specifier` (a URL, or a path relative to the working directory). */
export function absoluteSpecifier(specifier: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return specifier;
  const base = `file://${cwd().replace(/\/?$/, "/")}`;
  return new URL(specifier, base).href;
}

/** `mtime:size` of a file, or `"missing"`. */
async function stamp(path: string): Promise<string> {
  try {
    if (isDeno) {
      const s = await Deno.stat(path);
      return `${s.mtime?.getTime() ?? 0}:${s.size}`;
    }
    const fs = await import("node:fs/promises");
    const s = await fs.stat(path);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return "missing";
  }
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return new TextDecoder().decode(out);
}

async function readBytes(path: string): Promise<Uint8Array> {
  if (isDeno) return await Deno.readFile(path);
  const fs = await import("node:fs/promises");
  return new Uint8Array(await fs.readFile(path));
}

async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  if (isDeno) {
    const path = await Deno.makeTempDir({ prefix: "flame-code-build-" });
    return { path, remove: () => Deno.remove(path, { recursive: true }).catch(() => {}) };
  }
  const fs = await import("node:fs/promises");
  const os = await import("node:os");
  const path = await fs.mkdtemp(`${os.tmpdir()}/flame-code-build-`);
  return { path, remove: () => fs.rm(path, { recursive: true, force: true }) };
}

/** Runs deno with `args`; its stdout, or a CodeSyncError with its stderr. */
async function runDeno(deno: string, args: string[], specifier: string, what: string) {
  const child = spawn(deno, args, {
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
    cwd: cwd(),
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), BUILD_TIMEOUT_MS);
  });
  const out = readAll(child.stdout);
  const err = readAll(child.stderr);
  const status = await Promise.race([child.status, timedOut]);
  clearTimeout(timer);
  if (status === "timeout") {
    child.kill("SIGKILL");
    throw new CodeSyncError(
      `Cannot build "${specifier}" for code sync: \`deno ${what}\` took over ${BUILD_TIMEOUT_MS} ms (a remote import that cannot be fetched?)`,
      { specifier, detail: (await err).trim() },
    );
  }
  if (status.code !== 0) {
    const detail = (await err).trim().split("\n").slice(-20).join("\n");
    throw new CodeSyncError(
      `Cannot build "${specifier}" for code sync: \`deno ${what}\` failed${
        status.error ? ` (${status.error})` : ""
      }; fix the module (or cache its remote imports: \`deno cache\`)`,
      { specifier, detail },
    );
  }
  return await out;
}

/**
 * Built artifacts, shared by every pool of this process (a new pool's cold
 * call does not rebuild what another built: it checks the files, as any use does).
 */
const ENTRIES = new Map<string, Entry>();
const BUILDING = new Map<string, Promise<Artifact>>();

/** Builds and caches artifacts (see the module doc). */
export class CodeBuilder {
  #limit: number;
  #entries = ENTRIES;
  #building = BUILDING;
  #onBuild: BuildReport | undefined;

  /**
   * @param limit The largest artifact, in bytes (`codeLimit`).
   * @param onBuild Told of every build this builder waited for.
   */
  constructor(limit: number, onBuild?: BuildReport) {
    this.#limit = limit;
    this.#onBuild = onBuild;
  }

  /** The artifacts built so far, by specifier (the newest of each). */
  get artifacts(): Artifact[] {
    return [...this.#entries.values()].map((e) => e.artifact);
  }

  /**
   * The current artifact of `specifier`: the cached one if its files did not
   * change (checked at most once per second, or now with `force`), else a
   * new build. Concurrent asks share one build.
   *
   * @param specifier The module (absolute URL, or a path from the working directory).
   * @param force Check the files now.
   * @returns The artifact.
   * @throws {CodeSyncError} When it cannot be built, or is over the limit.
   */
  async current(specifier: string, force = false): Promise<Artifact> {
    const spec = absoluteSpecifier(specifier);
    const entry = this.#entries.get(spec);
    if (entry !== undefined && (force || Date.now() - entry.checkedAt >= FRESH_CHECK_MS)) {
      if (!await this.#fresh(entry)) this.#entries.delete(spec);
      else entry.checkedAt = Date.now();
    }
    const cached = this.#entries.get(spec);
    if (cached !== undefined) return this.#within(cached.artifact);
    let building = this.#building.get(spec);
    if (building === undefined) {
      building = this.#build(spec).finally(() => this.#building.delete(spec));
      this.#building.set(spec, building);
    }
    const artifact = await building;
    this.#onBuild?.(artifact);
    return this.#within(artifact);
  }

  /** `artifact` if within this builder's limit (another pool's build may have had a larger one). */
  #within(artifact: Artifact): Artifact {
    if (artifact.bytes.length > this.#limit) {
      throw new CodeSyncError(
        `Cannot sync "${artifact.specifier}": its artifact is ${artifact.bytes.length} bytes, over codeLimit (${this.#limit}); raise codeLimit, or bake the code into the image (code: "image")`,
        { specifier: artifact.specifier, detail: "" },
      );
    }
    return artifact;
  }

  /** Re-checks every cached artifact's files now (a boot is about to ship them). */
  async refresh(): Promise<void> {
    await Promise.all(
      [...this.#entries.keys()].map((spec) => this.current(spec, true).catch(() => {})),
    );
  }

  /**
   * The function source with each `import("./relative")` literal rewritten
   * to its artifact, resolved against `base`; with the artifacts it needs.
   *
   * @param source A shipped function's source.
   * @param base The URL of the file that called the pool.
   */
  async rewriteImports(
    source: string,
    base: string | undefined,
  ): Promise<{ source: string; artifacts: Artifact[] }> {
    const found = [...source.matchAll(RELATIVE_IMPORT)];
    if (found.length === 0) return { source, artifacts: [] };
    if (base === undefined) {
      throw new CodeSyncError(
        "Cannot sync the relative imports of a shipped function: the file that called the pool is not known; use pool.module(import.meta.resolve(...)) instead",
        { specifier: found[0]![2]!, detail: "" },
      );
    }
    const artifacts = new Map<string, Artifact>();
    for (const m of found) {
      const spec = new URL(m[2]!, base).href;
      if (!artifacts.has(spec)) artifacts.set(spec, await this.current(spec));
    }
    const rewritten = source.replace(
      RELATIVE_IMPORT,
      (_all, quote: string, rel: string) =>
        `import(${quote}flame-code:${artifacts.get(new URL(rel, base).href)!.hash}${quote})`,
    );
    return { source: rewritten, artifacts: [...artifacts.values()] };
  }

  async #fresh(entry: Entry): Promise<boolean> {
    for (const [path, was] of entry.artifact.files) {
      if (await stamp(path) !== was) return false;
    }
    return true;
  }

  async #build(spec: string): Promise<Artifact> {
    const started = Date.now();
    const found = findDeno();
    if (found.path === undefined) {
      throw new CodeSyncError(
        `Cannot build "${spec}" for code sync: no Deno executable found (${
          found.looked.join("; ")
        }); install Deno or set DENO_BIN`,
        { specifier: spec, detail: "" },
      );
    }
    const deno = found.path;
    const dir = await tempDir();
    try {
      const outFile = `${dir.path}/artifact.mjs`;
      // The graph's local files (for change checks) and the bundle, side by side.
      const [info] = await Promise.all([
        runDeno(deno, ["info", "--json", "--no-lock", spec], spec, "info"),
        runDeno(
          deno,
          [
            "bundle",
            "--quiet",
            "--no-lock",
            "--platform",
            "deno",
            "--format",
            "esm",
            "-o",
            outFile,
            spec,
          ],
          spec,
          "bundle",
        ),
      ]);
      const files = new Map<string, string>();
      try {
        const graph = JSON.parse(info) as { modules?: { specifier?: string; local?: string }[] };
        for (const m of graph.modules ?? []) {
          if (m.specifier?.startsWith("file:") && typeof m.local === "string") {
            files.set(m.local, await stamp(m.local));
          }
        }
      } catch {
        // No change checks for this one: it is rebuilt only with a new pool.
      }
      const bytes = await readBytes(outFile);
      const hash = createHash("sha256").update(bytes).digest("hex");
      const artifact: Artifact = {
        specifier: spec,
        hash,
        bytes,
        buildMs: Date.now() - started,
        files,
      };
      this.#entries.set(spec, { artifact, checkedAt: Date.now() });
      return artifact;
    } finally {
      await dir.remove();
    }
  }
}

/**
 * The URL of the first file on the stack that is not this package's: the
 * file that called the pool (for a shipped function's relative imports).
 */
export function callerFile(): string | undefined {
  const ours = new URL("../../", import.meta.url).href;
  const stack = new Error().stack ?? "";
  for (const m of stack.matchAll(/((?:file|https?):\/\/[^\s()]+?):\d+:\d+/g)) {
    const url = m[1]!;
    if (
      !url.startsWith(ours) || url.startsWith(`${ours}tests/`) || url.startsWith(`${ours}examples/`)
    ) {
      return url;
    }
  }
  return undefined;
}
