/**
 * LogTail: the timestamped log stream of a follow, resumed after cuts, kept
 * as the last lines without their timestamps, none lost and none twice.
 */

import assert from "node:assert/strict";
import type { LogChunk } from "../../src/docker/log_demux.ts";
import { LogTail } from "../../src/backends/docker/logs.ts";
import { everySplit } from "../fuzz/docker_splits.ts";

const encoder = new TextEncoder();

function out(text: string, stream: LogChunk["stream"] = "stdout"): LogChunk {
  return { stream, data: encoder.encode(text) };
}

const STREAM = "2026-01-02T03:04:05.000000001Z one\n" +
  "2026-01-02T03:04:05.100000000Z été ✓\n" +
  "2026-01-02T03:04:06Z three\n";

Deno.test("LogTail strips timestamps from lines delivered in every split", () => {
  const bytes = encoder.encode(STREAM);
  for (const pieces of everySplit(bytes)) {
    const lines: string[] = [];
    const tail = new LogTail(lines);
    for (const data of pieces) tail.push({ stream: "stdout", data });
    tail.end(true);
    assert.deepEqual(lines, ["one", "été ✓", "three"], `pieces ${pieces.map((p) => p.length)}`);
  }
});

Deno.test("LogTail drops the repeats of a resumed follow, and keeps a line cut in two once", () => {
  const bytes = encoder.encode(STREAM);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const lines: string[] = [];
    const tail = new LogTail(lines);
    tail.push({ stream: "stdout", data: bytes.subarray(0, cut) });
    tail.end(false);
    // The resumed follow starts at `since`, whole seconds: all three lines again.
    tail.push({ stream: "stdout", data: bytes });
    tail.end(true);
    assert.deepEqual(lines, ["one", "été ✓", "three"], `cut at ${cut}`);
  }
});

Deno.test("LogTail.since reaches back a second before the latest line, whatever its stream", () => {
  const tail = new LogTail([]);
  assert.equal(tail.since, undefined);
  tail.push(out("2026-01-02T03:04:06.5Z late\n", "stderr"));
  tail.push(out("2026-01-02T03:04:05.9Z early\n"));
  assert.equal(tail.since, Date.parse("2026-01-02T03:04:06Z") / 1000 - 1);
});

Deno.test("LogTail drops repeats per stream: one stream's line may reach the log after a later line of the other", () => {
  const lines: string[] = [];
  const tail = new LogTail(lines);
  tail.push(out("2026-01-02T03:04:05.2Z out 2\n"));
  tail.push(out("2026-01-02T03:04:05.1Z err 1\n", "stderr"));
  tail.end(false);
  tail.push(out("2026-01-02T03:04:05.2Z out 2\n2026-01-02T03:04:05.3Z out 3\n"));
  tail.push(out("2026-01-02T03:04:05.1Z err 1\n2026-01-02T03:04:05.4Z err 4\n", "stderr"));
  tail.end(true);
  assert.deepEqual(lines, ["out 2", "err 1", "out 3", "err 4"]);
});

Deno.test("LogTail keeps stdout and stderr lines apart when their pieces interleave", () => {
  const lines: string[] = [];
  const tail = new LogTail(lines);
  tail.push(out("2026-01-02T03:04:05.1Z std"));
  tail.push(out("2026-01-02T03:04:05.2Z err\n", "stderr"));
  tail.push(out("out\n"));
  tail.end(true);
  assert.deepEqual(lines, ["err", "stdout"]);
});

Deno.test("LogTail keeps a last line without a newline when the stream ends, and only the last `limit` lines", () => {
  const lines: string[] = [];
  const tail = new LogTail(lines, { limit: 2 });
  tail.push(out("2026-01-02T03:04:05.1Z a\n2026-01-02T03:04:05.2Z\n2026-01-02T03:04:05.3Z b\n"));
  tail.push(out("2026-01-02T03:04:05.4Z c"));
  assert.deepEqual(lines, ["a", "b"], "an empty line is not kept");
  tail.end(true);
  assert.deepEqual(lines, ["b", "c"]);
});

Deno.test("LogTail keeps a line without a timestamp as it is", () => {
  const lines: string[] = [];
  const tail = new LogTail(lines);
  tail.push(out("no stamp here\n"));
  tail.end(true);
  assert.deepEqual(lines, ["no stamp here"]);
});

Deno.test("LogTail.push counts the lines it kept", () => {
  const tail = new LogTail([]);
  assert.equal(tail.push(out("2026-01-02T03:04:05.1Z a\n2026-01-02T03:04:05.2Z b\n")), 2);
  assert.equal(tail.push(out("2026-01-02T03:04:05.1Z a\n2026-01-02T03:04:05.2Z b\n")), 0);
  assert.equal(tail.push(out("2026-01-02T03:04:05.3Z c")), 0);
});
