/**
 * What a pool ships to a runner and how a caller sees it come back: the
 * source of a function (checked once, cached), the module proxy, and the
 * `Remote*` types that type both.
 *
 * @module
 */

import type { CallContext } from "../protocol/call_context.ts";
import type { CallTarget } from "../protocol/messages.ts";
import type { CallOptions } from "./options.ts";

/** What a remote call resolves to: a value, or an async iterable for a generator. */
export type Remote<R> = [R] extends [never] ? never
  : Awaited<R> extends AsyncIterable<infer T> ? AsyncIterable<T>
  : Awaited<R>;

/** A function shipped by source: `this` is the {@linkcode CallContext}. */
export type ShippableFunction<A extends unknown[], R> = (this: CallContext, ...args: A) => R;

/**
 * What {@linkcode Pool.call} returns for a function returning `R`: a promise
 * of its value; for an async generator function, a promise of its values as
 * an `AsyncIterable` that is itself async iterable, so
 * `for await (const v of pool.call(async function* () {…}))` works.
 */
export type CallResult<R> = [R] extends [never] ? Promise<never>
  : 0 extends (1 & R) ? Promise<Remote<R>>
  : [R] extends [AsyncGenerator<infer T, unknown, never>]
    ? Promise<AsyncIterable<T>> & AsyncIterable<T>
  : Promise<Remote<R>>;

/**
 * Constrains a shipped function's result: `unknown` (no constraint) unless it
 * returns a function, which cannot cross the wire; then the call fails to
 * type-check, with this type's message in the error.
 */
export type ShippableResult<R> = [Awaited<R>] extends [never] ? unknown
  : 0 extends (1 & R) ? unknown
  // deno-lint-ignore no-explicit-any
  : Awaited<R> extends (...args: any[]) => unknown
    ? "A function cannot be returned: it cannot cross the wire; return data"
  : unknown;

/**
 * The typed proxy {@linkcode Pool.module} returns: each function export,
 * called on a runner. Async-generator exports return an `AsyncIterable`.
 */
export type RemoteModule<M> = {
  // deno-lint-ignore no-explicit-any
  [K in keyof M as M[K] extends (...args: any[]) => unknown ? K : never]: RemoteMethod<M[K]>;
};

/** One method of a {@linkcode RemoteModule}. */
export type RemoteMethod<F> = F extends (...args: infer A) => infer R
  ? (...args: A) => RemoteCall<R>
  : never;

/** A call started through a module proxy: await it for the value, or iterate it for a stream. */
export type RemoteCall<R> = [R] extends [never] ? Promise<never>
  : Awaited<R> extends AsyncIterable<infer T> ? AsyncIterable<T> & PromiseLike<AsyncIterable<T>>
  : Promise<Awaited<R>>;

/** Sources already checked; inline arrow functions are new objects at each call but share a source. */
const checkedSources = new Set<string>();
const CHECKED_SOURCES_LIMIT = 1024;
/** The checked source of each function object seen (a function passed again skips `toString`). */
const sourceOf = new WeakMap<object, string>();

/**
 * Returns the source to ship for `fn`, or throws a `TypeError` saying why it cannot be shipped.
 *
 * @param fn The function.
 * @returns Its source text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { functionSource } from "./shipping.ts";
 * assert.ok(functionSource((a: number) => a * 2).includes("a * 2"));
 * ```
 */
export function functionSource(fn: unknown): string {
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot call a ${fn === null ? "null" : typeof fn}: expected a function`);
  }
  const known = sourceOf.get(fn);
  if (known !== undefined) return known;
  const source = Function.prototype.toString.call(fn);
  if (checkedSources.has(source)) {
    sourceOf.set(fn, source);
    return source;
  }
  const label = fn.name ? `"${fn.name}"` : "(anonymous)";
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw new TypeError(
      `Cannot ship function ${label}: native and bound functions have no source to send`,
    );
  }
  if (/^class\b/.test(source)) {
    throw new TypeError(`Cannot ship ${label}: it is a class, not a function`);
  }
  try {
    new Function(`return (${source}\n)`);
  } catch {
    throw new TypeError(
      `Cannot ship function ${label}: its source is not a standalone function expression (a method shorthand?); use a function or arrow function`,
    );
  }
  if (checkedSources.size >= CHECKED_SOURCES_LIMIT) checkedSources.clear();
  checkedSources.add(source);
  sourceOf.set(fn, source);
  return source;
}

/** Starts a call (the pool's placement). */
export type StartCall = (
  target: CallTarget,
  args: unknown[],
  options: CallOptions,
) => Promise<unknown>;

/**
 * The proxy behind {@linkcode Pool.module}: each property is a function that
 * calls that export on a runner.
 *
 * @param specifier The module the runner imports.
 * @param options Options for every call through the proxy.
 * @param start Starts one call.
 * @returns The proxy.
 */
export function remoteModule<M>(
  specifier: string | URL,
  options: CallOptions | undefined,
  start: StartCall,
): RemoteModule<M> {
  const spec = specifier instanceof URL ? specifier.href : specifier;
  if (typeof spec !== "string" || spec === "") {
    throw new TypeError("Cannot create a module proxy: the specifier must be a non-empty string");
  }
  return new Proxy({}, {
    get: (_, name) => {
      if (typeof name !== "string" || name === "then") return undefined;
      return (...args: unknown[]) =>
        lazyCall({ kind: "module", specifier: spec, name }, args, options ?? {}, start);
    },
  }) as RemoteModule<M>;
}

/** A call that starts when first awaited or iterated. */
function lazyCall(target: CallTarget, args: unknown[], options: CallOptions, run: StartCall) {
  let started: Promise<unknown> | undefined;
  const start = () => started ??= run(target, args, options);
  return {
    then(onOk?: (v: unknown) => unknown, onErr?: (e: unknown) => unknown) {
      return start().then(onOk, onErr);
    },
    catch(onErr?: (e: unknown) => unknown) {
      return start().catch(onErr);
    },
    finally(onFinally?: () => void) {
      return start().finally(onFinally);
    },
    [Symbol.toStringTag]: "RemoteCall",
    [Symbol.asyncIterator]() {
      let inner: AsyncIterator<unknown> | undefined;
      const get = async () => {
        if (inner) return inner;
        const value = await start();
        if (
          typeof value !== "object" || value === null ||
          !(Symbol.asyncIterator in value)
        ) {
          throw new TypeError(
            `Export "${(target as { name: string }).name}" returned a value, not an async iterable`,
          );
        }
        return inner = (value as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      };
      return {
        next: async () => (await get()).next(),
        return: async () => {
          if (started === undefined) return { value: undefined, done: true as const };
          const it = await get().catch(() => undefined);
          return (await it?.return?.()) ?? { value: undefined, done: true as const };
        },
      };
    },
  };
}
