/**
 * DeadlineTimer: one timer for many deadlines, entries threaded through a list.
 */

import assert from "node:assert/strict";
import { type Deadline, DeadlineTimer } from "../../src/util/deadline_timer.ts";
import { mulberry32 } from "../_helpers/prng.ts";

interface Entry {
  deadline: number;
  name: number;
}

Deno.test("DeadlineTimer expires exactly the entries still present once due, each once", async () => {
  const fired: number[] = [];
  const timer = new DeadlineTimer<Entry>((e) => fired.push(e.name));
  const rand = mulberry32(7);
  const past = Date.now() - 1;
  const entries = Array.from({ length: 200 }, (_, name) => ({ deadline: past, name }));
  for (const e of entries) timer.add(e);
  timer.add(entries[0]!); // a second add is ignored
  assert.equal(timer.size, 200);
  // Remove a random half, head, tail and middle included.
  const removed = new Set<number>([0, 199, 100]);
  for (let i = 0; i < 100; i++) removed.add(Math.floor(rand() * 200));
  for (const name of removed) timer.delete(entries[name]!);
  timer.delete(entries[0]!); // deleting twice is harmless
  assert.equal(timer.size, 200 - removed.size);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(
    fired.sort((a, b) => a - b),
    entries.map((e) => e.name).filter((n) => !removed.has(n)),
  );
  assert.equal(timer.size, 0);
  // An expired entry can be added again.
  timer.add(entries[1]!);
  assert.equal(timer.size, 1);
  timer.dispose();
  assert.equal(timer.size, 0);
});

Deno.test("DeadlineTimer re-arms for the next deadline and leaves later entries alone", async () => {
  const fired: number[] = [];
  const timer = new DeadlineTimer<Entry>((e) => fired.push(e.name));
  const now = Date.now();
  const soon = { deadline: now + 10, name: 1 };
  const later = { deadline: now + 60, name: 2 };
  const never: Entry & Deadline = { deadline: now + 60_000, name: 3 };
  timer.add(later);
  timer.add(never);
  timer.add(soon);
  await new Promise((r) => setTimeout(r, 35));
  assert.deepEqual(fired, [1]);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(fired, [1, 2]);
  assert.equal(timer.size, 1);
  timer.dispose();
  assert.equal(never.prevDue, undefined, "dispose unlinks every entry");
});

Deno.test("a paused DeadlineTimer arms nothing until resume(), then expires what is due and times the rest", async () => {
  const fired: number[] = [];
  const timer = new DeadlineTimer<Entry>((e) => fired.push(e.name), { paused: true });
  const now = Date.now();
  timer.add({ deadline: now - 1, name: 1 });
  timer.add({ deadline: now + 40, name: 2 });
  const gone = { deadline: now - 1, name: 3 };
  timer.add(gone);
  timer.delete(gone);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(fired.length, 0, "fired while paused");
  timer.resume();
  timer.resume(); // harmless
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(fired, [1]);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(fired, [1, 2]);
  // Disposing a paused timer drops its entries and arms nothing.
  const other = new DeadlineTimer<Entry>((e) => fired.push(e.name), { paused: true });
  other.add({ deadline: now - 1, name: 4 });
  other.dispose();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(fired, [1, 2]);
  timer.dispose();
});
