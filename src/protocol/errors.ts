/**
 * A peer broke the wire protocol: a malformed frame or message, an oversize
 * frame, or a failed handshake.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "./errors.ts";
 * const err = new ProtocolError("Frame of 5000000000 bytes exceeds the limit");
 * console.assert(err.name === "ProtocolError");
 * ```
 */
export class ProtocolError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was wrong.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}
