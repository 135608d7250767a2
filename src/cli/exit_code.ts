/**
 * The exit codes of the CLI, for scripts.
 *
 * @module
 */

/**
 * Exit codes of the CLI, for scripts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ExitCode, runCli } from "@flame/docker/cli";
 *
 * const quiet = { out: () => {}, err: () => {} };
 * const code = await runCli(["--socket", "/nonexistent/docker.sock", "reap", "--dry-run"], quiet);
 * assert.equal(code, ExitCode.Unreachable);
 * ```
 */
export const ExitCode = {
  /** Success: nothing wrong, nothing left over. */
  Ok: 0,
  /** A doctor check failed, `reap --dry-run` found leftovers, or a removal failed. */
  Found: 1,
  /** The command line is wrong. */
  Usage: 2,
  /** No Docker engine answered. */
  Unreachable: 3,
} as const;
