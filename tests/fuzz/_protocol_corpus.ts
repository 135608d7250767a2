/**
 * Valid protocol encodings and tokens for the protocol fuzz tests, and the
 * test body they share.
 */

import { encodeValue } from "../../src/protocol/codec.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";
import { encodeFrameHeader } from "../../src/protocol/frame.ts";
import {
  encodeCallBody,
  encodeCallHeader,
  encodeError,
  encodeId,
  encodeIdValue,
} from "../../src/protocol/messages.ts";
import { concat } from "../../src/util/bytes.ts";
import { defineFuzzTest as defineGenericFuzzTest, type FuzzTarget } from "./_fuzz.ts";

export const COUNT = 100_000;
export const isProtocolError = (err: unknown) => err instanceof ProtocolError;

export const join: (parts: readonly Uint8Array[]) => Uint8Array = concat;

export function frame(type: number, parts: readonly Uint8Array[]): Uint8Array {
  const payload = join(parts);
  return join([encodeFrameHeader(type, payload.length), payload]);
}

const rich = {
  n: 1,
  s: "é",
  big: 2n ** 70n,
  bytes: new Uint8Array([1, 2, 3]),
  map: new Map<unknown, unknown>([["k", new Set([1, -0, NaN])]]),
  date: new Date(0),
  re: /a+/gi,
  list: [undefined, null, true],
  err: new RangeError("r", { cause: new Error("c") }),
  f64: new Float64Array([1.5]),
};
const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;

export const messages: Uint8Array[] = [
  join([encodeCallHeader(7, 1000), ...encodeCallBody({ kind: "fn", source: "(a) => a" }, [1])]),
  join([
    encodeCallHeader(1, 0),
    ...encodeCallBody({ kind: "module", specifier: "file:///x.ts", name: "f" }, [rich]),
  ]),
  join(encodeIdValue(3, { ok: [1, 2, 3] })),
  join(encodeIdValue(4, rich)),
  join(encodeIdValue(5, cyclic)),
  join(encodeError(6, new TypeError("bad", { cause: { code: 1 } }))),
  join(encodeError(6, new Error("outer", { cause: new Error("inner") }))),
  join(encodeId(9)),
  join(encodeId(9, 16)),
  join(encodeValue(new Uint8Array(5000).fill(7))),
  join(encodeValue(["x", new Map([[1, new Uint16Array([1, 2])]])])),
];

export const TOKENS: Uint8Array[] = [
  ...messages.map((m) => m.subarray(0, 12)),
  Uint8Array.of(0x20),
  Uint8Array.of(0x02),
  Uint8Array.of(0xff, 0xff, 0xff, 0x0f),
  Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x01),
  new TextEncoder().encode('[1,{"message":"m","cause":5}]'),
  new TextEncoder().encode("[1,"),
];

/**
 * A target that runs each input through every decoder in `decoders`; each
 * may only throw `ProtocolError`.
 */
export function decodersTarget(
  name: string,
  decoders: ((input: Uint8Array) => void)[],
): FuzzTarget {
  return {
    name,
    corpus: messages,
    tokens: TOKENS,
    maxLength: 128,
    run(input) {
      let firstTyped: unknown;
      let typed = 0;
      for (const decode of decoders) {
        try {
          decode(input);
        } catch (err) {
          if (!isProtocolError(err)) throw err;
          firstTyped ??= err;
          typed++;
        }
      }
      if (typed === decoders.length) throw firstTyped;
    },
    allowed: isProtocolError,
  };
}

/** Defines the test: the corpus decodes, then the fuzz run. */
export function defineFuzzTest(target: FuzzTarget, what: string, base: number, file: string): void {
  defineGenericFuzzTest(target, { what, count: COUNT, base, file, errorName: "ProtocolError" });
}
