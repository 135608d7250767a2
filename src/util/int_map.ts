/**
 * A map from 32-bit unsigned integers to values, for call ids on the hot
 * path. A `Map` whose entries come and go once per call allocates a new hash
 * table every few calls (its deleted slots are only reclaimed by rehashing);
 * this open-addressing table with backward-shift deletion reuses its slots
 * and allocates only when it grows.
 *
 * @module
 */

const MIN_CAPACITY = 16;

/**
 * Integer-keyed map with slot reuse.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IntMap } from "./int_map.ts";
 * const m = new IntMap<string>();
 * m.set(7, "seven");
 * assert.equal(m.get(7), "seven");
 * assert.ok(m.delete(7));
 * assert.equal(m.get(7), undefined);
 * ```
 */
export class IntMap<V> {
  #keys = new Uint32Array(MIN_CAPACITY);
  #values: (V | undefined)[] = new Array(MIN_CAPACITY).fill(undefined);
  #mask = MIN_CAPACITY - 1;
  /** 32 − log2(capacity): the slot is the top bits of a Fibonacci hash. */
  #shift = 32 - Math.log2(MIN_CAPACITY);
  #size = 0;

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  #slot(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.#shift;
  }

  /** The value for `key`, if any. */
  get(key: number): V | undefined {
    const keys = this.#keys;
    const values = this.#values;
    for (let i = this.#slot(key);; i = (i + 1) & this.#mask) {
      const v = values[i];
      if (v === undefined) return undefined;
      if (keys[i] === key) return v;
    }
  }

  /** Whether `key` has a value. */
  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Sets `key` (a 32-bit unsigned integer) to `value` (never `undefined`).
   *
   * @throws {RangeError} When the key is not a 32-bit unsigned integer or the value is undefined.
   */
  set(key: number, value: V): void {
    if (key !== key >>> 0) {
      throw new RangeError(`IntMap key ${key} is not a 32-bit unsigned integer`);
    }
    if (value === undefined) throw new RangeError("IntMap values cannot be undefined");
    if ((this.#size + 1) * 2 > this.#values.length) this.#resize(this.#values.length * 2);
    const keys = this.#keys;
    const values = this.#values;
    let i = this.#slot(key);
    for (; values[i] !== undefined; i = (i + 1) & this.#mask) {
      if (keys[i] === key) {
        values[i] = value;
        return;
      }
    }
    keys[i] = key;
    values[i] = value;
    this.#size++;
  }

  /**
   * Removes `key`.
   *
   * @returns Whether it was there.
   */
  delete(key: number): boolean {
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    let i = this.#slot(key);
    for (;; i = (i + 1) & mask) {
      if (values[i] === undefined) return false;
      if (keys[i] === key) break;
    }
    // Backward-shift: pull later entries of the probe run into the hole, so no tombstones.
    let hole = i;
    for (let j = (hole + 1) & mask; values[j] !== undefined; j = (j + 1) & mask) {
      const home = this.#slot(keys[j]!);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const between = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (!between) {
        keys[hole] = keys[j]!;
        values[hole] = values[j];
        hole = j;
      }
    }
    values[hole] = undefined;
    this.#size--;
    return true;
  }

  /** A snapshot of the values (safe to iterate while deleting). */
  values(): V[] {
    const out: V[] = [];
    for (const v of this.#values) if (v !== undefined) out.push(v);
    return out;
  }

  #resize(capacity: number): void {
    const keys = this.#keys;
    const values = this.#values;
    this.#keys = new Uint32Array(capacity);
    this.#values = new Array(capacity).fill(undefined);
    this.#mask = capacity - 1;
    this.#shift = 32 - Math.log2(capacity);
    this.#size = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v !== undefined) this.set(keys[i]!, v);
    }
  }
}
