/**
 * A runner (for `ProcessBackend`'s `runner` option) that records, in order,
 * every `setTimeout`/`setInterval` it arms and the frame types of every
 * socket write, and saves them as JSON lines to `$FLAME_TEST_EVENTS` when it
 * exits. Tests read it to check what a runner does before its first answer.
 *
 * @module
 */

import { runRunner } from "../../src/runner/main.ts";
import { readUint32BE } from "../../src/util/bytes.ts";

const events: string[] = [];
for (const name of ["setTimeout", "setInterval"] as const) {
  const original = globalThis[name] as (...args: unknown[]) => unknown;
  (globalThis as Record<string, unknown>)[name] = (...args: unknown[]) => {
    events.push(name);
    return original(...args);
  };
}

const connect = Deno.connect;
// deno-lint-ignore no-explicit-any
(Deno as any).connect = async (options: Deno.ConnectOptions) => {
  const conn = await connect(options);
  const write = conn.write.bind(conn);
  conn.write = (p: Uint8Array) => {
    // The frame types this write carries (whole frames: small frames leave together).
    const types: number[] = [];
    for (let at = 0; at + 5 <= p.length;) {
      types.push(p[at + 4]!);
      at += 5 + readUint32BE(p, at);
    }
    events.push(`write ${types.join(",")}`);
    return write(p);
  };
  return conn;
};

const exit = await runRunner(Deno.env.get("FLAME_PARENT")!);
Deno.writeTextFileSync(Deno.env.get("FLAME_TEST_EVENTS")!, events.join("\n"));
Deno.exit(exit.code);
