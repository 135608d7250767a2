/**
 * Base64url without padding (RFC 4648 §5), shaped like `@std/encoding`'s
 * `encodeBase64Url` / `decodeBase64Url`.
 *
 * @module
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

/**
 * Encodes bytes or a UTF-8 string as base64url without padding.
 *
 * @param data The bytes, or a string encoded as UTF-8 first.
 * @returns The base64url text.
 *
 * @example
 * ```ts
 * import { encodeBase64Url } from "./base64url.ts";
 * console.assert(encodeBase64Url("hi?") === "aGk_");
 * ```
 */
export function encodeBase64Url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! +
      ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!;
  }
  return out;
}

/**
 * Decodes base64url text (padding optional).
 *
 * @param text The base64url text.
 * @returns The decoded bytes.
 * @throws {TypeError} When the text holds a character outside the alphabet or has an impossible length.
 *
 * @example
 * ```ts
 * import { decodeBase64Url } from "./base64url.ts";
 * console.assert(new TextDecoder().decode(decodeBase64Url("aGk_")) === "hi?");
 * ```
 */
export function decodeBase64Url(text: string): Uint8Array {
  const clean = text.replace(/=+$/, "");
  if (clean.length % 4 === 1) {
    throw new TypeError(`Cannot decode base64url: invalid length ${clean.length}`);
  }
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    const code = clean.charCodeAt(i);
    const v = code < 128 ? LOOKUP[code]! : -1;
    if (v < 0) {
      throw new TypeError(`Cannot decode base64url: invalid character at index ${i}`);
    }
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}
