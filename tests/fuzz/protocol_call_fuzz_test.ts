/**
 * Fuzz: `decodeCall` and `decodeId` (the runner's decoders of what the
 * parent sends) on 100 000 random and 100 000 mutated inputs each. They may
 * only throw `ProtocolError`, and finish each input quickly.
 *
 * Replay a failure: `FLAME_FUZZ_REPLAY=<target>:<seed> deno test -A tests/fuzz/protocol_call_fuzz_test.ts`.
 */

import { decodeCall, decodeId } from "../../src/protocol/messages.ts";
import { decodersTarget, defineFuzzTest } from "./_protocol_corpus.ts";

defineFuzzTest(
  decodersTarget("call", [decodeCall, decodeId]),
  "decodeCall and decodeId",
  0xca11,
  "tests/fuzz/protocol_call_fuzz_test.ts",
);
