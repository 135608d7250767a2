/**
 * Memory soak: 100 000 calls on warm process runners; the parent's memory
 * after GC grows by a bounded amount (measured in a separate process, so no
 * other test's memory counts).
 */

import assert from "node:assert/strict";

const CALLS = 100_000;
const MB = 1024 * 1024;
const RSS_BOUND = 50 * MB;
const HEAP_BOUND = 10 * MB;

Deno.test(`[chaos] memory soak: ${CALLS} calls on warm runners, parent memory growth bounded`, async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL("./_soak_parent.ts", import.meta.url).pathname,
      String(CALLS),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.ok(out.success, `soak parent failed: ${new TextDecoder().decode(out.stderr)}`);
  const r = JSON.parse(text.split("\n").pop()!);
  const rssGrowth = r.after.rss - r.before.rss;
  const heapGrowth = r.after.heap - r.before.heap;
  const mb = (n: number) => (n / MB).toFixed(1);
  console.log(
    `  soak: ${r.calls} calls in ${r.elapsed} ms (${
      Math.round(r.calls / (r.elapsed / 1000))
    } calls/s); after GC: RSS ${mb(r.before.rss)} → ${mb(r.after.rss)} MB (${mb(rssGrowth)} MB; ${
      mb(r.start.rss)
    } MB before the ${r.warmup}-call warm-up), heap ${mb(r.before.heap)} → ${
      mb(r.after.heap)
    } MB (${mb(heapGrowth)} MB); bounds ${mb(RSS_BOUND)} / ${mb(HEAP_BOUND)} MB`,
  );
  assert.equal(r.stats.callsOk, r.warmup + CALLS);
  assert.equal(r.stats.callsFailed, 0);
  assert.ok(rssGrowth < RSS_BOUND, `RSS grew by ${mb(rssGrowth)} MB`);
  assert.ok(heapGrowth < HEAP_BOUND, `heap grew by ${mb(heapGrowth)} MB`);
});
