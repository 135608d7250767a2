/**
 * `runner.ts` as a program: flags, exit codes and messages.
 */

import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { encodeCallBody, encodeCallHeader, FrameType } from "../../src/protocol/messages.ts";
import { encodeBase64Url } from "../../src/util/base64url.ts";
import { BogusParent, parentEnvFor } from "../_helpers/wire.ts";

const RUNNER = new URL("../../runner.ts", import.meta.url).pathname;

/** Runs the runner with only the environment given (plus what Deno needs to start). */
async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const keep: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) keep[name] = value;
  }
  const started = Date.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", RUNNER, ...args],
    env: { ...keep, NO_COLOR: "1", ...env },
    clearEnv: true,
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return {
    code: out.code,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
    ms: Date.now() - started,
  };
}

Deno.test("runner.ts --help exits 0 and documents FLAME_PARENT", async () => {
  for (const flag of ["--help", "-h"]) {
    const r = await runCli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /FLAME_PARENT/);
    assert.match(r.stdout, /Exit codes/);
  }
});

Deno.test("runner.ts --version prints the version from deno.json", async () => {
  const r = await runCli(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), denoJson.version);
});

Deno.test("runner.ts without FLAME_PARENT exits 2 with a clear message", async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /FLAME_PARENT is not set/);
  assert.match(r.stderr, /--help/);
});

Deno.test("runner.ts with a malformed FLAME_PARENT exits 2", async () => {
  for (const value of ["", "%%% not base64url", encodeBase64Url("{nope")]) {
    const r = await runCli([], { FLAME_PARENT: value });
    assert.equal(r.code, 2, `FLAME_PARENT=${JSON.stringify(value)}: ${r.stderr}`);
    assert.match(r.stderr, /Invalid FLAME_PARENT/);
  }
  const { env } = parentEnvFor(4000);
  const badPort = encodeBase64Url(JSON.stringify({ ...env, port: 70000 }));
  const r = await runCli([], { FLAME_PARENT: badPort });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /"port"/);
  assert.ok(!r.stderr.includes(env.secret), "the secret was printed");
});

Deno.test("runner.ts with another protocol version exits 2 naming the version", async () => {
  const { env } = parentEnvFor(4000);
  const r = await runCli([], { FLAME_PARENT: encodeBase64Url(JSON.stringify({ ...env, v: 99 })) });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /version 99 is not supported/);
});

Deno.test("runner.ts exits 3 in bounded time when nothing listens on the parent port", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const { env, text } = parentEnvFor(port, { connectTimeout: 500 });
  const r = await runCli([], { FLAME_PARENT: text });
  assert.equal(r.code, 3, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`Cannot connect to parent 127\\.0\\.0\\.1:${port} within 500 ms`),
  );
  assert.ok(!r.stderr.includes(env.secret), "the secret was printed");
  // Deno's start-up included; the connect attempts themselves stop at 500 ms.
  assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
});

Deno.test("runner.ts exits 4 against a listener that lacks the secret, running nothing", async () => {
  const marker = await Deno.makeTempFile({ prefix: "flame_cli_" });
  await Deno.remove(marker);
  const bogus = new BogusParent(async (conn) => {
    await conn.readFrame();
    const fake = () => encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
    conn.send(FrameType.Challenge, [
      new TextEncoder().encode(JSON.stringify({ nonce: fake(), proof: fake() })),
    ]);
    conn.send(FrameType.Welcome, [new TextEncoder().encode("{}")]);
    conn.send(FrameType.Call, [
      encodeCallHeader(1, 0),
      ...encodeCallBody(
        { kind: "fn", source: `() => Deno.writeTextFileSync(${JSON.stringify(marker)}, "ran")` },
        [],
      ),
    ]);
    while ((await conn.readFrame()) !== null) { /* until the runner hangs up */ }
  });
  try {
    const { env, text } = parentEnvFor(bogus.port, { connectTimeout: 5000 });
    const r = await runCli([], { FLAME_PARENT: text });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /Cannot authenticate: The parent could not prove/);
    assert.ok(!r.stderr.includes(env.secret), "the secret was printed");
  } finally {
    await bogus.close();
  }
  assert.equal(await Deno.stat(marker).then(() => "exists", () => "absent"), "absent");
});

Deno.test("runner.ts exits 4 at its deadline when the parent accepts and then says nothing", async () => {
  // The handshake deadline is an `AbortSignal.timeout`, which does not keep a
  // process alive: the pending socket read must, and the deadline must fire.
  const bogus = new BogusParent(async (conn) => {
    while ((await conn.readFrame()) !== null) { /* read the Hello, answer nothing */ }
  });
  try {
    const { env, text } = parentEnvFor(bogus.port, { connectTimeout: 800 });
    const r = await runCli([], { FLAME_PARENT: text });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /Cannot authenticate: Timed out after \d+ ms/);
    assert.ok(!r.stderr.includes(env.secret), "the secret was printed");
    assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
  } finally {
    await bogus.close();
  }
});
