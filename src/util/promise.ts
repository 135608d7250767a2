/**
 * `Promise.withResolvers`, which Node.js 20 lacks.
 *
 * @module
 */

/** A promise with its resolve and reject functions. */
export interface Resolvers<T> {
  /** The promise. */
  promise: Promise<T>;
  /** Resolves it. */
  resolve: (value: T | PromiseLike<T>) => void;
  /** Rejects it. */
  reject: (reason?: unknown) => void;
}

/**
 * Creates a promise and hands out its resolvers.
 *
 * @returns The promise and its resolvers.
 *
 * @example
 * ```ts
 * import { withResolvers } from "./promise.ts";
 * const { promise, resolve } = withResolvers<number>();
 * resolve(1);
 * console.assert(await promise === 1);
 * ```
 */
export function withResolvers<T>(): Resolvers<T> {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
