/**
 * Shortening text quoted in an error message, so a huge or hostile input
 * cannot flood it.
 *
 * @module
 */

/**
 * Shortens text quoted in an error message.
 *
 * @param text The text to quote.
 * @returns At most 80 characters of it.
 *
 * @example
 * ```ts
 * import { clip } from "./clip.ts";
 * console.assert(clip("x".repeat(100)) === "x".repeat(77) + "...");
 * ```
 */
export function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
