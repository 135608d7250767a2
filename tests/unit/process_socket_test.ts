/**
 * connectProcess(): a child's stdin and stdout as one Socket, with real
 * children (`cat`, `sh`). Every test awaits `exited`, so no child, pipe or
 * wait outlives it (the sanitizers check).
 */

import assert from "node:assert/strict";
import { connectProcess, ProcessExitError } from "../../src/process_socket.ts";

const text = new TextEncoder();

async function readAll(socket: { read(p: Uint8Array): Promise<number | null> }, size: number) {
  const out = new Uint8Array(size);
  let at = 0;
  while (at < size) {
    const n = await socket.read(out.subarray(at));
    if (n === null) break;
    at += n;
  }
  return out.subarray(0, at);
}

Deno.test("connectProcess() carries bytes both ways; close() ends the child", async () => {
  const cat = await connectProcess("cat", []);
  try {
    const sent = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
    const [written, echoed] = await Promise.all([
      (async () => {
        let at = 0;
        while (at < sent.length) at += await cat.write(sent.subarray(at, at + 65536));
        return at;
      })(),
      readAll(cat, sent.length),
    ]);
    assert.equal(written, sent.length);
    assert.deepEqual(echoed, sent);
  } finally {
    cat.close();
  }
  const status = await cat.exited;
  // Its stdin is closed before SIGTERM is sent, so cat may end on its own first.
  assert.ok(status.signal === "SIGTERM" || status.code === 0, JSON.stringify(status));
  assert.equal(await cat.read(new Uint8Array(1)), null);
  await assert.rejects(cat.write(new Uint8Array(1)), /closed/);
});

Deno.test("connectProcess(): a child that exits 0 ends the stream with null", async () => {
  const child = await connectProcess("sh", ["-c", "printf done"]);
  try {
    assert.equal(new TextDecoder().decode(await readAll(child, 100)), "done");
    assert.equal(await child.read(new Uint8Array(1)), null);
  } finally {
    child.close();
    await child.exited;
  }
});

Deno.test("connectProcess(): a child that fails makes read() throw ProcessExitError with its stderr", async () => {
  const child = await connectProcess("sh", [
    "-c",
    "echo 'warming up' >&2; echo 'Permission denied (publickey).' >&2; exit 255",
  ]);
  try {
    const error = await child.read(new Uint8Array(16)).catch((e) => e);
    assert.ok(error instanceof ProcessExitError, String(error));
    assert.deepEqual(error.status, { code: 255, signal: null });
    assert.equal(error.command, "sh");
    assert.match(error.stderr, /Permission denied \(publickey\)/);
    assert.equal(
      error.message,
      '"sh" exited with code 255: warming up / Permission denied (publickey).',
    );
    assert.match(child.stderr, /warming up/);
  } finally {
    child.close();
    await child.exited;
  }
});

Deno.test("connectProcess(): writing to a child that closed its stdin and failed throws ProcessExitError", async () => {
  const child = await connectProcess("sh", ["-c", "exec 0<&-; echo 'no such thing' >&2; exit 3"]);
  try {
    let error: unknown;
    for (let i = 0; i < 100 && error === undefined; i++) {
      // Writes succeed until the child is gone (into the pipe's buffer); a broken pipe follows.
      error = await child.write(text.encode("GET / HTTP/1.1\r\n\r\n")).then(
        () => undefined,
        (e) => e,
      );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(error instanceof ProcessExitError, String(error));
    assert.equal(error.status.code, 3);
    assert.match(error.message, /no such thing/);
  } finally {
    child.close();
    await child.exited;
  }
});

Deno.test("connectProcess(): only the last 4 KiB of stderr are kept", async () => {
  const child = await connectProcess("sh", [
    "-c",
    'i=0; while [ $i -lt 400 ]; do echo "line $i of noise" >&2; i=$((i+1)); done; exit 1',
  ]);
  try {
    const error = await child.read(new Uint8Array(1)).catch((e) => e);
    assert.ok(error instanceof ProcessExitError);
    assert.ok(error.stderr.length <= 4096, String(error.stderr.length));
    assert.match(error.stderr, /line 399 of noise\n$/);
    assert.doesNotMatch(error.stderr, /line 0 of noise/);
  } finally {
    child.close();
    await child.exited;
  }
});

Deno.test("connectProcess() of a missing command rejects with NotFound", async () => {
  await assert.rejects(
    connectProcess("flame-no-such-command-here", []),
    Deno.errors.NotFound,
  );
});

Deno.test("connectProcess(): an idle stream does not keep Deno alive", async () => {
  const url = new URL("../../src/process_socket.ts", import.meta.url).href;
  const script = `
    import { connectProcess } from ${JSON.stringify(url)};
    const cat = await connectProcess("cat", []);
    await cat.write(new TextEncoder().encode("x"));
    await cat.read(new Uint8Array(1));
    console.log("idle");
  `;
  const began = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "idle");
  // Deno itself takes well under a second to start; a held child would keep it up for good.
  assert.ok(performance.now() - began < 15_000);
});
