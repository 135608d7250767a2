/**
 * Code sync on the runner: artifacts the parent ships over the
 * authenticated link (`CodeBegin`, `CodeChunk`…, `CodeEnd`), verified
 * against their SHA-256 and stored in a directory of the runner's own under
 * the temporary directory, where calls import them from
 * (`flame-code:<hash>` specifiers). An artifact whose bytes do not match its
 * hash, or that is larger than announced, is refused: it is never written
 * as a module, and calls that name it fail with the reason.
 *
 * The main thread stores; call workers only resolve (the directory is
 * passed to them at start), so the refusal is a file too.
 *
 * @module
 */

import { CODE_SCHEME } from "../protocol/messages.ts";

const HASH = /^[0-9a-f]{64}$/;

/** The largest artifact a runner accepts, in bytes (the parent's `codeLimit` is the one users set). */
export const CODE_LIMIT = 1 << 30;

/**
 * The directory a runner keeps its artifacts in (created on the first
 * artifact): the same path on the main thread and in call workers.
 */
export function codeDirFor(runnerId: string): string {
  let tmp = "/tmp";
  try {
    tmp = Deno.env.get("TMPDIR") || tmp;
  } catch {
    // No env permission: the default.
  }
  const safe = runnerId.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
  return `${tmp.replace(/\/+$/, "")}/flame-code-${safe}-${Deno.pid}`;
}

/**
 * The file URL a `flame-code:<hash>` specifier names, or the specifier
 * itself when it is not one.
 *
 * @param dir The runner's artifact directory.
 * @param specifier A call target's specifier.
 * @returns What to `import()`.
 * @throws {Error} When the artifact was refused (with why), or never arrived.
 */
export function resolveCodeSpecifier(dir: string, specifier: string): string {
  if (!specifier.startsWith(CODE_SCHEME)) return specifier;
  const hash = specifier.slice(CODE_SCHEME.length);
  if (!HASH.test(hash)) throw new Error(`Malformed code artifact specifier "${specifier}"`);
  try {
    Deno.statSync(`${dir}/${hash}.mjs`);
    return `file://${dir}/${hash}.mjs`;
  } catch {
    let why: string | undefined;
    try {
      why = Deno.readTextFileSync(`${dir}/${hash}.refused`);
    } catch {
      // Never arrived.
    }
    throw new Error(
      why === undefined
        ? `Code artifact sha256:${hash} never reached this runner`
        : `Code artifact sha256:${hash} was refused by this runner: ${why}`,
    );
  }
}

/** An artifact on its way in: written as its chunks arrive, hashed at its end. */
interface Incoming {
  hash: string;
  size: number;
  received: number;
  file?: Deno.FsFile;
  refused?: string;
}

/** Receives artifacts on the main thread (see the module doc). */
export class CodeStore {
  readonly dir: string;
  #limit: number;
  #incoming: Incoming | undefined;
  #made = false;

  /**
   * @param dir Where artifacts go (see {@linkcode codeDirFor}).
   * @param limit The largest artifact accepted, in bytes.
   */
  constructor(dir: string, limit: number) {
    this.dir = dir;
    this.#limit = limit;
  }

  /** `CodeBegin`: `{ hash, size }` as JSON. */
  begin(payload: Uint8Array): void {
    this.#drop(this.#incoming);
    let hash = "";
    let size = -1;
    try {
      const o = JSON.parse(new TextDecoder().decode(payload)) as { hash?: unknown; size?: unknown };
      if (typeof o.hash === "string") hash = o.hash;
      if (typeof o.size === "number") size = o.size;
    } catch {
      // Malformed: refused below.
    }
    const incoming: Incoming = { hash, size, received: 0 };
    if (!HASH.test(hash)) incoming.refused = "malformed artifact announcement";
    else if (!(size >= 0 && Number.isSafeInteger(size))) incoming.refused = "malformed size";
    else if (size > this.#limit) {
      incoming.refused = `${size} bytes is over this runner's limit of ${this.#limit}`;
    }
    this.#incoming = incoming;
  }

  /**
   * `CodeChunk`: the next bytes of the artifact begun, written under a
   * temporary name at once (the frame's buffer is not kept).
   */
  chunk(payload: Uint8Array): void {
    const incoming = this.#incoming;
    if (incoming === undefined || incoming.refused !== undefined) return;
    incoming.received += payload.length;
    if (incoming.received > incoming.size) {
      incoming.refused = `more than the ${incoming.size} bytes announced`;
      this.#drop(incoming);
      return;
    }
    if (incoming.file === undefined) {
      this.#mkdir();
      incoming.file = Deno.openSync(this.#partial(incoming), {
        write: true,
        create: true,
        truncate: true,
      });
    }
    for (let at = 0; at < payload.length;) at += incoming.file.writeSync(payload.subarray(at));
  }

  /**
   * `CodeEnd`: verifies the artifact (Web Crypto's SHA-256 of what was
   * written), then makes it importable, or stores its refusal. Frames after
   * it must wait for this (the runner holds them).
   */
  async end(): Promise<void> {
    const incoming = this.#incoming;
    this.#incoming = undefined;
    if (incoming === undefined || !HASH.test(incoming.hash)) return this.#drop(incoming);
    let why = incoming.refused;
    if (why === undefined && incoming.received !== incoming.size) {
      why = `${incoming.received} bytes arrived, ${incoming.size} were announced`;
    }
    this.#mkdir();
    const partial = this.#partial(incoming);
    if (why === undefined) {
      if (incoming.file === undefined) Deno.writeFileSync(partial, new Uint8Array()); // no chunk came
      else incoming.file.close();
      delete incoming.file;
      const got = hex(await crypto.subtle.digest("SHA-256", await Deno.readFile(partial)));
      if (got !== incoming.hash) why = `its bytes hash to sha256:${got}, not the sha256 announced`;
    }
    const base = `${this.dir}/${incoming.hash}`;
    if (why !== undefined) {
      this.#drop(incoming);
      try {
        Deno.removeSync(partial);
      } catch {
        // None.
      }
      Deno.writeTextFileSync(`${base}.refused`, why);
      return;
    }
    // Renamed only once verified: a module is never seen half written or unverified.
    Deno.renameSync(partial, `${base}.mjs`);
    try {
      Deno.removeSync(`${base}.refused`);
    } catch {
      // None.
    }
  }

  #partial(incoming: Incoming): string {
    return `${this.dir}/${incoming.hash}.partial`;
  }

  /** Closes and removes an artifact's partial file, if it has one. */
  #drop(incoming: Incoming | undefined): void {
    if (incoming?.file === undefined) return;
    incoming.file.close();
    delete incoming.file;
    try {
      Deno.removeSync(this.#partial(incoming));
    } catch {
      // Gone already.
    }
  }

  #mkdir(): void {
    if (this.#made) return;
    Deno.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.#made = true;
  }
}

function hex(digest: ArrayBuffer): string {
  let out = "";
  for (const b of new Uint8Array(digest)) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Removes a runner's artifact directory (it is exiting), if there is one. */
export function removeCodeDir(runnerId: string): void {
  try {
    Deno.removeSync(codeDirFor(runnerId), { recursive: true });
  } catch {
    // None, or gone already.
  }
}

/**
 * A shipped function's source with each `"flame-code:<hash>"` literal (its
 * relative imports, rewritten by the parent) replaced by the artifact's file URL.
 *
 * @param dir The runner's artifact directory.
 * @param source The function source.
 * @returns The source to compile.
 */
export function resolveCodeImports(dir: string, source: string): string {
  if (!source.includes(CODE_SCHEME)) return source;
  return source.replace(
    /(["'])flame-code:([0-9a-f]{64})\1/g,
    (_all, quote: string, hash: string) =>
      `${quote}${resolveCodeSpecifier(dir, `${CODE_SCHEME}${hash}`)}${quote}`,
  );
}
