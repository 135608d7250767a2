/**
 * Code sync (`code: "sync"`, issue 19) on ProcessBackend: modules that live
 * only in a temporary directory of the parent, with a local and an npm
 * import, are built, shipped and run, streaming and timeouts included; a
 * shipped function's relative `import()`; changed code reaches new runners
 * while a runner with the old code finishes its call and is then retired;
 * a graph that cannot be built fails before any boot; an artifact over
 * `codeLimit`; and a real runner refusing a tampered artifact.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  type CallContext,
  CodeSyncError,
  Pool,
  ProcessBackend,
  RemoteError,
  TimeoutError,
} from "../../mod.ts";
import type { FlameEvent } from "../../src/events.ts";
import {
  CODE_SCHEME,
  decodeError,
  encodeCallBody,
  encodeCallHeader,
  FrameType,
} from "../../src/protocol/messages.ts";
import { codeDirFor } from "../../src/runner/code_store.ts";
import { runAgainstParent } from "../_helpers/wire.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `files` into a new temporary directory; returns its path. */
async function tempModules(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "flame-sync-test-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

const JOBS = `
import isNumber from "npm:is-number@7.0.0";
import { twice } from "./helper.ts";
export function check(x: unknown): [boolean, number] {
  return [isNumber(x), twice(21)];
}
export async function* count(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield twice(i);
}
export function wait(ms: number): Promise<string> {
  return new Promise((r) => setTimeout(() => r("late"), ms));
}
`;
const HELPER = `export const twice = (n: number): number => n * 2;\n`;

interface Jobs {
  check(x: unknown): [boolean, number];
  count(n: number): AsyncGenerator<number>;
  wait(ms: number): Promise<string>;
}

Deno.test("[process] code sync runs a module with a local and an npm import from a temporary directory", async () => {
  const dir = await tempModules({ "jobs.ts": JOBS, "helper.ts": HELPER });
  const events: FlameEvent[] = [];
  try {
    await using pool = new Pool({
      backend: new ProcessBackend(),
      max: 1,
      code: "sync",
      onEvent: (e) => events.push(e),
    });
    const jobs = pool.module<Jobs>(`file://${dir}/jobs.ts`);
    assert.deepEqual(await jobs.check(7), [true, 42]);
    assert.deepEqual(await jobs.check("x"), [false, 42]);
    const seen: number[] = [];
    for await (const v of jobs.count(4)) seen.push(v);
    assert.deepEqual(seen, [0, 2, 4, 6]);
    await assert.rejects(
      pool.module<Jobs>(`file://${dir}/jobs.ts`, { timeout: 200 }).wait(5000),
      TimeoutError,
    );
    const builds = events.filter((e) => e.name === "flame.code.build");
    const ships = events.filter((e) => e.name === "flame.code.ship");
    assert.equal(builds.length, 1, "built once, then from the cache");
    assert.equal(ships.length, 1, "shipped once to the runner");
    assert.equal(builds[0]!.attributes["flame.specifier"], `file://${dir}/jobs.ts`);
    assert.match(String(builds[0]!.attributes["flame.hash"]), /^[0-9a-f]{64}$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("[process] under code sync a shipped function's relative import() is shipped too", async () => {
  await using pool = new Pool({ backend: new ProcessBackend(), max: 1, code: "sync" });
  const out = await pool.call(async (text: string) => {
    const { shout } = await import("../fixtures/sync_helper.ts");
    return shout(text);
  }, ["hi"]);
  assert.equal(out, "HI!");
});

Deno.test("[process] changed code: new runners run it; a runner with the old code finishes its call, then is retired", async () => {
  const dir = await tempModules({ "v.ts": `export const version = () => "v1";\n` + SLOW });
  const shrinks: string[] = [];
  try {
    await using pool = new Pool({
      backend: new ProcessBackend(),
      max: 2,
      maxConcurrency: 1,
      code: "sync",
      onShrink: (e) => shrinks.push(e.reason),
    });
    const mod = pool.module<{ version(): string; slow(ms: number): Promise<string> }>(
      `file://${dir}/v.ts`,
    );
    assert.equal(await mod.version(), "v1");
    const old = mod.slow(1500).then((v) => v);
    // On its runner (past its code check) before the file changes.
    for (let i = 0; i < 500 && pool.stats().busySlots === 0; i++) await sleep(10);
    await Deno.writeTextFile(
      `${dir}/v.ts`,
      `export const version = () => "v2 (changed)";\n` + SLOW,
    );
    await sleep(1100); // past the once-a-second freshness check
    assert.equal(await mod.version(), "v2 (changed)", "the new runner runs the new code");
    assert.equal(await old, "v1 done", "the old runner finished its call with its code");
    for (let i = 0; i < 50 && !shrinks.includes("code-changed"); i++) await sleep(20);
    assert.deepEqual(shrinks, ["code-changed"]);
    assert.equal(await mod.version(), "v2 (changed)");
    assert.equal(pool.stats().boots, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
const SLOW =
  `export const slow = (ms: number) => new Promise((r) => setTimeout(() => r(version().split(" ")[0] + " done"), ms));\n`;

Deno.test("[process] a graph that cannot be built fails with CodeSyncError before any boot", async () => {
  const dir = await tempModules({
    "syntax.ts": "export function broken( {\n",
    "missing.ts": `import { x } from "./not-there.ts";\nexport const f = () => x;\n`,
    // A remote import that is not cached and cannot be fetched (loopback, nothing listens).
    "remote.ts": `import { y } from "http://127.0.0.1:9/y.ts";\nexport const f = () => y;\n`,
  });
  try {
    await using pool = new Pool({ backend: new ProcessBackend(), max: 1, code: "sync" });
    for (
      const [file, why] of [["syntax.ts", /parse|expected|Unexpected/i], [
        "missing.ts",
        /not-there\.ts/,
      ], ["remote.ts", /127\.0\.0\.1:9/]] as const
    ) {
      const err = await pool.module<{ f(): unknown }>(`file://${dir}/${file}`).f().catch((e) => e);
      assert.ok(err instanceof CodeSyncError, `${file}: ${err}`);
      assert.equal(err.specifier, `file://${dir}/${file}`);
      assert.match(err.message, why, file);
      assert.match(err.message, /Cannot build/);
    }
    assert.equal(pool.stats().boots, 0, "no runner was booted");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("[process] an artifact over codeLimit is refused before any boot; codeLimit is validated", async () => {
  const dir = await tempModules({
    "big.ts": `export const big = () => ${JSON.stringify("x".repeat(20_000))}.length;\n`,
  });
  try {
    await using pool = new Pool({
      backend: new ProcessBackend(),
      max: 1,
      code: "sync",
      codeLimit: 10_000,
    });
    const err = await pool.module<{ big(): number }>(`file://${dir}/big.ts`).big().catch((e) => e);
    assert.ok(err instanceof CodeSyncError, String(err));
    assert.match(err.message, /over codeLimit \(10000\)/);
    assert.equal(pool.stats().boots, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(
    () => new Pool({ backend: new ProcessBackend(), max: 1, code: "sync", codeLimit: 0 }),
    RangeError,
  );
  assert.throws(
    () => new Pool({ backend: new ProcessBackend(), max: 1, code: "bake" as unknown as "image" }),
    TypeError,
  );
});

Deno.test("a runner refuses a tampered artifact: it is never written as a module, and calls naming it fail with why", async () => {
  const good = new TextEncoder().encode("export const f = () => 'good';\n");
  const hash = createHash("sha256").update(good).digest("hex");
  const tampered = good.slice();
  tampered[24] = "e".charCodeAt(0); // 'good' becomes 'eood'
  const runnerId = `flame-sync-${crypto.randomUUID().slice(0, 8)}`;
  let error: { message?: string } | undefined;
  let leftModule = true;
  await runAgainstParent({ id: runnerId }, async (conn) => {
    conn.send(FrameType.CodeBegin, [
      new TextEncoder().encode(JSON.stringify({ hash, size: tampered.length })),
    ]);
    conn.send(FrameType.CodeChunk, [tampered]);
    conn.send(FrameType.CodeEnd);
    conn.send(FrameType.Call, [
      encodeCallHeader(1, 0),
      ...encodeCallBody({ kind: "module", specifier: `${CODE_SCHEME}${hash}`, name: "f" }, []),
    ]);
    for (let f = await conn.readFrame(); f !== null; f = await conn.readFrame()) {
      if (f.type === FrameType.Ping) conn.send(FrameType.Pong);
      if (f.type === FrameType.Error) {
        error = decodeError(f.payload)[1];
        break;
      }
    }
    try {
      Deno.statSync(`${codeDirFor(runnerId)}/${hash}.mjs`);
    } catch {
      leftModule = false;
    }
    conn.send(FrameType.Shutdown, [new Uint8Array(4)]);
  });
  assert.ok(error !== undefined, "the call failed");
  assert.match(
    String(error.message),
    /refused by this runner: its bytes hash to sha256:[0-9a-f]{64}, not the sha256 announced/,
  );
  assert.equal(leftModule, false, "the tampered bytes were never stored as a module");
});

Deno.test("[process] a shipped function that imports without code sync is unchanged; RemoteError names a failed import", async () => {
  await using pool = new Pool({ backend: new ProcessBackend(), max: 1, code: "sync" });
  const err = await pool.call(async function (this: CallContext) {
    // Not a relative literal: not synced, imported as written (and missing).
    const name = "/nonexistent/flame-sync.ts";
    return await import(name);
  }).catch((e) => e);
  assert.ok(err instanceof RemoteError, String(err));
});
