/**
 * Which failed boots are worth another try: the engine's transient answers
 * (a 5xx, a 409 name race, a connection lost mid-call), not the ones that
 * would fail again (a missing image or network, a command that cannot run,
 * no engine at all).
 *
 * @module
 */

import { DockerConnectionError, DockerError } from "../../docker/errors.ts";

/** Engine messages of failures that no retry mends (the command, the image, permissions). */
const PERMANENT =
  /executable file not found|no such file or directory|not found in \$PATH|permission denied|invalid|OCI runtime/i;

/**
 * Whether `error` (or an error in its `cause` chain) is an engine answer
 * that may differ when the same request is sent again.
 *
 * @param error What a boot rejected with.
 * @returns `true` for a 5xx or a 409 that does not name a permanent cause,
 * and for a connection that was lost after it was made.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DockerError } from "@flame/docker/docker";
 * import { transientEngineError } from "./transient.ts";
 *
 * const answer = (status: number, engineMessage: string) =>
 *   new DockerError(engineMessage, { status, engineMessage, method: "POST", path: "/containers/create" });
 * assert.equal(transientEngineError(new Error("Cannot boot", { cause: answer(500, "busy") })), true);
 * assert.equal(transientEngineError(answer(409, "name in use")), true);
 * assert.equal(transientEngineError(answer(404, "No such image: app:1")), false);
 * ```
 */
export function transientEngineError(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; e !== null && typeof e === "object" && depth < 8; depth++) {
    if (e instanceof DockerError) {
      if (e.notFound || PERMANENT.test(e.engineMessage)) return false;
      return e.conflict || e.status >= 500;
    }
    // Every endpoint tried and none answered: no engine (a retry would not find one).
    if (e instanceof DockerConnectionError) return e.attempts.length === 0;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
