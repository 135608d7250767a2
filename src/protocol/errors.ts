/**
 * A peer broke the wire protocol: a malformed frame or message, an oversize
 * frame, or a failed handshake.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtocolError } from "@flame/docker";
 *
 * function isPeerFault(error: unknown): boolean {
 *   return error instanceof ProtocolError;
 * }
 * assert.ok(isPeerFault(new ProtocolError("Frame of 5000000000 bytes exceeds the limit")));
 * ```
 */
export class ProtocolError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was wrong.
   * @param options Standard error options (`cause`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ProtocolError } from "@flame/docker";
   *
   * const err = new ProtocolError("Unknown message type 99", { cause: 99 });
   * assert.equal(err.name, "ProtocolError");
   * assert.equal(err.cause, 99);
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}
