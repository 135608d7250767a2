/**
 * The warm call path arms no timer: call deadlines share one timer per side
 * and idle timers re-arm lazily, so a steady stream of calls costs no
 * `setTimeout`/`clearTimeout` on either side, with the default timeouts and
 * with a runner-side idle timeout. LocalBackend runs the runner in
 * this process over a real loopback socket, so both sides are counted.
 */

import assert from "node:assert/strict";
import { LocalBackend, Pool } from "../../mod.ts";

for (
  const [label, options] of [
    ["defaults", {}],
    // A finite idle limit for min runners gives the runner its own idle timeout too.
    ["runner idle timeout", { minIdleShutdownAfter: 60_000 }],
  ] as const
) {
  Deno.test(`warm calls arm no timers on either side (${label})`, () =>
    warmCallsArmNoTimers(options));
}

async function warmCallsArmNoTimers(options: { minIdleShutdownAfter?: number }): Promise<void> {
  await using pool = new Pool({ backend: new LocalBackend(), max: 1, ...options });
  const noop = () => 0;
  for (let i = 0; i < 200; i++) await pool.call(noop);
  const counts = { setTimeout: 0, clearTimeout: 0, setInterval: 0, clearInterval: 0 };
  const saved = {
    setTimeout: globalThis.setTimeout,
    clearTimeout: globalThis.clearTimeout,
    setInterval: globalThis.setInterval,
    clearInterval: globalThis.clearInterval,
  };
  for (const name of Object.keys(counts) as (keyof typeof counts)[]) {
    const original = saved[name] as (...a: unknown[]) => unknown;
    (globalThis as Record<string, unknown>)[name] = (...args: unknown[]) => {
      counts[name]++;
      return original(...args);
    };
  }
  try {
    for (let i = 0; i < 2000; i++) await pool.call(noop);
    // Pipelined too: many calls in flight at once.
    await Promise.all(Array.from({ length: 500 }, () => pool.call(noop)));
  } finally {
    Object.assign(globalThis, saved);
  }
  assert.deepEqual(counts, { setTimeout: 0, clearTimeout: 0, setInterval: 0, clearInterval: 0 });
}
