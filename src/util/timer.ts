/**
 * The id `setTimeout`/`setInterval` return, whatever the runtime's typings say.
 *
 * @module
 */

/** A timer id. */
export type Timer = ReturnType<typeof setTimeout>;
