/**
 * `deno task bench:quick` completes and prints one JSON line per figure.
 * Timings are never asserted: this only keeps the benchmarks runnable.
 */

import assert from "node:assert/strict";

Deno.test({
  name: "deno task bench:quick completes and prints BENCH JSON lines",
  // The bench spawns and reaps its own subprocesses and containers.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = new URL("../../", import.meta.url);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 240_000);
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["task", "bench:quick"],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
        signal: controller.signal,
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.ok(out.success, `bench:quick failed:\n${new TextDecoder().decode(out.stderr)}`);
      const lines = text.split("\n").filter((l) => l.startsWith("BENCH "));
      assert.ok(lines.length >= 5, `expected BENCH lines, got:\n${text}`);
      const figures = lines.map((l) => JSON.parse(l.slice("BENCH ".length)));
      for (const f of figures) {
        assert.equal(typeof f.section, "string");
        assert.equal(typeof f.name, "string");
        assert.equal(typeof f.value, "number");
      }
      assert.ok(
        figures.some((f) => f.section === "warm/process" && f.name !== "skipped"),
        "the ProcessBackend figures ran",
      );
      assert.match(text, /\| section \| figure \| value \|/);
    } finally {
      clearTimeout(timer);
    }
  },
});
