import assert from "node:assert/strict";
import { LogDemuxer } from "../../src/docker/log_demux.ts";
import { collectLogs, DockerProtocolError, type LogChunk } from "../../src/docker/mod.ts";
import { mulberry32 } from "../_helpers/prng.ts";
import { bytes, concat, everySplit, forSeeds, randomSplit } from "../fuzz/docker_splits.ts";

function frame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(4, payload.length);
  out.set(payload, 8);
  return out;
}

function demux(pieces: Uint8Array[]): LogChunk[] {
  const demuxer = new LogDemuxer();
  const chunks = pieces.flatMap((piece) => demuxer.push(piece));
  demuxer.finish();
  return chunks;
}

Deno.test("LogDemuxer demultiplexes frames split anywhere", async () => {
  const input = concat([
    frame(1, bytes("out 1\n")),
    frame(2, bytes("err é\n")),
    frame(1, new Uint8Array(0)),
    frame(1, bytes("out 2\n")),
  ]);
  for (const pieces of everySplit(input)) {
    const logs = await collectLogs(demux(pieces));
    assert.deepEqual(logs, { stdout: "out 1\nout 2\n", stderr: "err é\n" });
  }
});

Deno.test("LogDemuxer passes payloads through as views, never copies", () => {
  const input = frame(2, bytes("abc"));
  const [chunk] = new LogDemuxer().push(input);
  assert.equal(chunk?.stream, "stderr");
  assert.equal(chunk?.data.buffer, input.buffer);
});

Deno.test("LogDemuxer demultiplexes thousands of random streams in random splits", () => {
  forSeeds(1000, 0x106, (seed) => {
    const random = mulberry32(seed);
    const frames: Uint8Array[] = [];
    const expected = { stdout: [] as number[], stderr: [] as number[] };
    for (let n = Math.floor(random() * 10); n > 0; n--) {
      const type = random() < 0.5 ? 1 : 2;
      const payload = Uint8Array.from({ length: Math.floor(random() * 200) }, () => random() * 256);
      frames.push(frame(type, payload));
      expected[type === 1 ? "stdout" : "stderr"].push(...payload);
    }
    const actual = { stdout: [] as number[], stderr: [] as number[] };
    for (const chunk of demux(randomSplit(concat(frames), seed, 20))) {
      actual[chunk.stream].push(...chunk.data);
    }
    assert.deepEqual(actual, expected);
  });
});

Deno.test("LogDemuxer rejects bad headers, engine errors and truncated frames", () => {
  assert.throws(
    () => new LogDemuxer().push(new Uint8Array([7, 0, 0, 0, 0, 0, 0, 1])),
    (e) => e instanceof DockerProtocolError && e.message.startsWith("Invalid log frame header [7"),
  );
  assert.throws(
    () => new LogDemuxer().push(new Uint8Array([1, 1, 0, 0, 0, 0, 0, 1])),
    DockerProtocolError,
  );
  assert.throws(
    () => demux(randomSplit(frame(3, bytes("boom")), 3, 3)),
    /Engine reported an error in the log stream: "boom"/,
  );
  const truncated = new LogDemuxer();
  truncated.push(frame(1, bytes("abc")).subarray(0, 9));
  assert.throws(() => truncated.finish(), /ended inside a frame/);
  const header = new LogDemuxer();
  header.push(new Uint8Array([1, 0, 0]));
  assert.throws(() => header.finish(), /ended inside a frame/);
});

Deno.test("collectLogs() decodes text split inside multibyte characters", async () => {
  const euro = bytes("€");
  const chunks: LogChunk[] = [
    { stream: "stdout", data: euro.subarray(0, 1) },
    { stream: "stderr", data: bytes("x") },
    { stream: "stdout", data: euro.subarray(1) },
  ];
  assert.deepEqual(await collectLogs(chunks), { stdout: "€", stderr: "x" });
});
