/**
 * HTTP/1.1 field helpers shared by the request encoder, the response parser
 * and the chunked decoder (whose trailers are header fields too).
 *
 * @module
 */

import { clip } from "../util/clip.ts";
import { DockerProtocolError } from "./errors.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Whether `value` is an HTTP token (a valid method or header name).
 *
 * @param value Text to check.
 * @returns `true` for a non-empty token.
 */
export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

/**
 * Parses one `name: value` line (without its line ending) into `into`,
 * keyed by the lower-cased name; repeated fields are joined with `", "`.
 *
 * @param line The header line.
 * @param into Where the field goes.
 * @throws {DockerProtocolError} For a folded line, a bad name or a missing colon.
 */
export function addHeaderLine(line: string, into: Map<string, string>): void {
  const colon = line.indexOf(":");
  const first = line.charCodeAt(0);
  if (first === 0x20 || first === 0x09) {
    throw new DockerProtocolError(
      `Folded header line ${JSON.stringify(clip(line))} is not allowed`,
    );
  }
  if (colon <= 0) {
    throw new DockerProtocolError(`Invalid header line ${JSON.stringify(clip(line))}`);
  }
  const name = line.slice(0, colon);
  if (!TOKEN.test(name)) {
    throw new DockerProtocolError(`Invalid header name ${JSON.stringify(clip(name))}`);
  }
  const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
  const key = name.toLowerCase();
  const previous = into.get(key);
  into.set(key, previous === undefined ? value : `${previous}, ${value}`);
}

/**
 * Decodes bytes one to one into characters (ISO-8859-1), for short protocol lines.
 *
 * @param bytes The bytes.
 * @returns The text.
 */
export function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}
