/**
 * IntMap against a plain Map as the model: random sets, gets and deletes,
 * with keys clustered (as call ids are) and spread over the 32-bit range.
 */

import assert from "node:assert/strict";
import { IntMap } from "../../src/util/int_map.ts";
import { mulberry32 } from "../_helpers/prng.ts";

Deno.test("IntMap agrees with Map over random operations, clustered and spread keys", () => {
  for (const spread of [64, 2 ** 32]) {
    const rand = mulberry32(spread === 64 ? 1 : 2);
    const model = new Map<number, number>();
    const m = new IntMap<number>();
    for (let op = 0; op < 200_000; op++) {
      const key = Math.floor(rand() * spread) >>> 0;
      const r = rand();
      if (r < 0.45) {
        m.set(key, op);
        model.set(key, op);
      } else if (r < 0.9) {
        assert.equal(m.delete(key), model.delete(key));
      } else {
        assert.equal(m.get(key), model.get(key));
        assert.equal(m.has(key), model.has(key));
      }
      assert.equal(m.size, model.size);
    }
    for (const [k, v] of model) assert.equal(m.get(k), v);
    assert.deepEqual(m.values().sort((a, b) => a - b), [...model.values()].sort((a, b) => a - b));
  }
});

Deno.test("IntMap grows past thousands of live entries and empties again", () => {
  const m = new IntMap<{ id: number }>();
  for (let id = 1; id <= 5000; id++) m.set(id, { id });
  assert.equal(m.size, 5000);
  for (let id = 1; id <= 5000; id++) assert.equal(m.get(id)?.id, id);
  for (const v of m.values()) assert.ok(m.delete(v.id));
  assert.equal(m.size, 0);
  assert.equal(m.get(1), undefined);
  assert.equal(m.delete(1), false);
  // Key 0 and the largest key are ordinary keys.
  m.set(0, { id: 0 });
  m.set(0xffffffff, { id: -1 });
  assert.equal(m.get(0)?.id, 0);
  assert.equal(m.get(0xffffffff)?.id, -1);
});

Deno.test("IntMap refuses keys outside 32 bits and undefined values", () => {
  const m = new IntMap<number>();
  assert.throws(() => m.set(-1, 1), RangeError);
  assert.throws(() => m.set(2 ** 32, 1), RangeError);
  assert.throws(() => m.set(1.5, 1), RangeError);
  assert.throws(() => m.set(1, undefined as unknown as number), RangeError);
});
