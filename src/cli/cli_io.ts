/**
 * Where the CLI writes: one call per line, so a caller can capture the output.
 *
 * @module
 */

/**
 * Where the CLI writes: one call per line.
 *
 * @example Capturing a command's output
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CliIo, runCli } from "@flame/docker/cli";
 *
 * const out: string[] = [];
 * const io: CliIo = { out: (line) => out.push(line), err: () => {} };
 * await runCli(["--version"], io);
 * assert.equal(out.length, 1);
 * ```
 */
export interface CliIo {
  /** Writes a line to standard output. */
  out: (line: string) => void;
  /** Writes a line to standard error. */
  err: (line: string) => void;
}
