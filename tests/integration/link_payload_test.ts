/**
 * Values larger than the handshake's frame limit cross both ways once the link
 * is authenticated, and calls placed together are answered together.
 */

import assert from "node:assert/strict";
import { Pool } from "../../mod.ts";
import { CORE_BACKENDS } from "../_helpers/backends.ts";

for (const c of CORE_BACKENDS) {
  Deno.test(`[${c.kind}] a result larger than the handshake frame limit reaches the caller`, async () => {
    await using pool = new Pool({ backend: c.make(), max: 1 });
    assert.equal((await pool.call((n: number) => "x".repeat(n), [2000])).length, 2000);
    const bytes = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
    const back = await pool.call((b: Uint8Array) => b, [bytes]);
    assert.deepEqual(back, bytes);
  });

  Deno.test(`[${c.kind}] many calls in flight each get their own result`, async () => {
    await using pool = new Pool({ backend: c.make(), max: 1, maxConcurrency: 64 });
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => pool.call((x: number) => x * 2, [i])),
    );
    assert.deepEqual(results, Array.from({ length: 500 }, (_, i) => i * 2));
  });
}
