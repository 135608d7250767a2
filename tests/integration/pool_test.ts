/**
 * Pool semantics on LocalBackend and ProcessBackend (same bodies as Docker's).
 */

import assert from "node:assert/strict";
import { Pool, type PoolOptions } from "../../mod.ts";
import { CORE_BACKENDS } from "../_helpers/backends.ts";
import { definePoolSuite } from "../_helpers/pool_suite.ts";

for (const c of CORE_BACKENDS) definePoolSuite(c);

Deno.test("Pool() rejects invalid options naming the option", () => {
  const backend = CORE_BACKENDS[0]!.make();
  const bad: [Partial<PoolOptions>, RegExp, ErrorConstructor][] = [
    [{}, /"max": it is required/, TypeError],
    [{ max: 0 }, /"max"/, RangeError],
    [{ max: 1.5 }, /"max"/, RangeError],
    [{ max: 2, min: 3 }, /"min": 3 exceeds "max" 2/, RangeError],
    [{ max: 1, maxConcurrency: 0 }, /"maxConcurrency"/, RangeError],
    [{ max: 1, timeout: -1 }, /"timeout"/, RangeError],
    [{ max: 1, bootTimeout: Infinity }, /"bootTimeout"/, RangeError],
    [{ max: 1, idleShutdownAfter: "1" as unknown as number }, /"idleShutdownAfter"/, TypeError],
    [{ max: 1, singleUse: 1 as unknown as boolean }, /"singleUse"/, TypeError],
    [{ max: 1, name: "bad name!" }, /"name"/, TypeError],
    [{ max: 1, onShrink: 3 as unknown as () => void }, /"onShrink"/, TypeError],
    [{ max: 1, heartbeatInterval: 5000, heartbeatTimeout: 1000 }, /"heartbeatTimeout"/, RangeError],
  ];
  for (const [options, message, type] of bad) {
    assert.throws(() => new Pool({ backend, ...options } as PoolOptions), (e) => {
      return e instanceof type && message.test((e as Error).message);
    }, JSON.stringify(options));
  }
  assert.throws(() => new Pool({ max: 1 } as PoolOptions), /"backend"/);
});

Deno.test("Pool() refuses a backend instance that already serves another open pool", async () => {
  const backend = CORE_BACKENDS[0]!.make();
  const first = new Pool({ backend, max: 1 });
  assert.throws(() => new Pool({ backend, max: 1 }), /already serves another pool/);
  await first.close();
  await using second = new Pool({ backend, max: 1 });
  assert.equal(second.stats().runners, 0);
});
