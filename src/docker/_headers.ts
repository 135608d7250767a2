/**
 * HTTP/1.1 field helpers shared by the request encoder, the response parser
 * and the chunked decoder (whose trailers are header fields too).
 *
 * @module
 */

import { clip } from "../util/clip.ts";
import { DockerProtocolError } from "./errors.ts";

/** One `tchar` of RFC 9110 §5.6.2, as regular expression source. */
export const TCHAR = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";

const TOKEN = new RegExp(`^${TCHAR}+$`);
// RFC 9110 §5.5: field values hold no control character but HTAB. In a line
// whose ending was removed, any CR left is a bare CR.
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

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
 * Names the first character of a protocol line (without its line ending)
 * that may not appear in it: a bare CR, or another control character but HTAB.
 *
 * @param line The line.
 * @returns What is wrong, as a phrase for an error message, or `undefined` when nothing is.
 */
export function invalidCharacter(line: string): string | undefined {
  if (!CONTROL.test(line)) return undefined; // test() is the fast path
  const code = line.charCodeAt(line.search(CONTROL));
  return code === 0x0d
    ? "a bare CR (one not followed by LF)"
    : `control character 0x${code.toString(16).padStart(2, "0")}`;
}

/**
 * Parses one `name: value` line (without its line ending) into `into`,
 * keyed by the lower-cased name; repeated fields are joined with `", "`.
 *
 * @param line The header line.
 * @param into Where the field goes.
 * @param kind What the line is, for error messages.
 * @throws {DockerProtocolError} For a folded line, a bad name, a missing colon or a control character.
 */
export function addHeaderLine(
  line: string,
  into: Map<string, string>,
  kind: "header" | "trailer" = "header",
): void {
  const bad = invalidCharacter(line);
  if (bad !== undefined) {
    throw new DockerProtocolError(`Invalid ${kind} line ${JSON.stringify(clip(line))}: ${bad}`);
  }
  const colon = line.indexOf(":");
  const first = line.charCodeAt(0);
  if (first === 0x20 || first === 0x09) {
    throw new DockerProtocolError(
      `Folded ${kind} line ${JSON.stringify(clip(line))} is not allowed`,
    );
  }
  if (colon <= 0) {
    throw new DockerProtocolError(`Invalid ${kind} line ${JSON.stringify(clip(line))}`);
  }
  const name = line.slice(0, colon);
  if (!TOKEN.test(name)) {
    throw new DockerProtocolError(`Invalid ${kind} name ${JSON.stringify(clip(name))}`);
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
