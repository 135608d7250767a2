/**
 * Fuzz: `decodeIdValue`, `decodeError` and the codec's `decodeValue` (the
 * parent's decoders of what a runner sends) on 100 000 random and 100 000
 * mutated inputs each. They may only throw `ProtocolError`; a decoded error
 * must also become a `RemoteError`, as the parent makes it, without throwing.
 *
 * Replay a failure: `FLAME_FUZZ_REPLAY=<target>:<seed> deno test -A tests/fuzz/protocol_result_fuzz_test.ts`.
 */

import assert from "node:assert/strict";
import { RemoteError } from "../../src/errors.ts";
import { decodeValue } from "../../src/protocol/codec.ts";
import { decodeError, decodeIdValue } from "../../src/protocol/messages.ts";
import { decodersTarget, defineFuzzTest } from "./_protocol_corpus.ts";

defineFuzzTest(
  decodersTarget("result", [
    decodeValue,
    decodeIdValue,
    (input) => {
      const [, wire] = decodeError(input);
      assert.equal(typeof new RemoteError(wire).message, "string");
    },
  ]),
  "decodeValue, decodeIdValue and decodeError to RemoteError",
  0x4e5,
  "tests/fuzz/protocol_result_fuzz_test.ts",
);
