/**
 * Fuzz: the frame decoder on 100 000 random and 100 000 mutated inputs,
 * pushed in random pieces, with a small payload limit. It may only throw
 * `ProtocolError`, never returns a frame over the limit or more bytes than
 * it was given, and finishes each input quickly.
 *
 * Replay a failure: `FLAME_FUZZ_REPLAY=<target>:<seed> deno test -A tests/fuzz/protocol_frame_fuzz_test.ts`.
 */

import assert from "node:assert/strict";
import { encodeFrameHeader, FrameDecoder } from "../../src/protocol/frame.ts";
import { split } from "./_fuzz.ts";
import type { FuzzTarget } from "./_fuzz.ts";
import { defineFuzzTest, frame, isProtocolError, join, messages } from "./_protocol_corpus.ts";

const frames: Uint8Array[] = [
  frame(10, [messages[0]!]),
  join([frame(20, []), frame(21, []), frame(11, [messages[2]!])]),
  frame(12, [messages[5]!]),
  frame(1, [new TextEncoder().encode("hello")]),
];

const framesTarget: FuzzTarget = {
  name: "frames",
  corpus: frames,
  tokens: [
    encodeFrameHeader(20, 0),
    encodeFrameHeader(10, 3),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1),
    Uint8Array.of(0, 0, 1, 0, 2),
    Uint8Array.of(0, 0, 0),
    Uint8Array.of(7),
  ],
  maxLength: 192,
  run(input, random) {
    const decoder = new FrameDecoder({ maxPayload: 256 });
    let bytes = 0;
    for (const piece of split(input, random)) {
      decoder.push(piece);
      for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
        assert.ok(f.payload.length <= 256, "frame over the limit");
        bytes += 5 + f.payload.length;
      }
    }
    assert.ok(bytes + decoder.buffered <= input.length, "more bytes out than in");
  },
  allowed: isProtocolError,
};

defineFuzzTest(framesTarget, "frame decoder", 0xf7a3, "tests/fuzz/protocol_frame_fuzz_test.ts");
