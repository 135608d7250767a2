/**
 * The logger the library writes to. Any object with these four methods works,
 * including an `@std/log` `Logger` (`getLogger()`), `console`, or a test
 * capture.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Logger } from "@flame/docker";
 * const lines: string[] = [];
 * const logger: Logger = {
 *   debug: (m) => lines.push(m),
 *   info: (m) => lines.push(m),
 *   warn: (m) => lines.push(m),
 *   error: (m) => lines.push(m),
 * };
 * logger.info("hello");
 * assert.equal(lines[0], "hello");
 * ```
 */
export interface Logger {
  /** Detail useful when debugging. */
  debug(msg: string, ...args: unknown[]): unknown;
  /** Normal operation worth a line. */
  info(msg: string, ...args: unknown[]): unknown;
  /** Something went wrong that the library handled. */
  warn(msg: string, ...args: unknown[]): unknown;
  /** Something went wrong that the user should look at. */
  error(msg: string, ...args: unknown[]): unknown;
}

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A logger writing to `console.error` at or above `level`, each line prefixed.
 *
 * @param prefix Put before each message, e.g. `"[flame:thumbs]"`.
 * @param level The least severe level printed.
 * @returns The logger.
 *
 * @example
 * ```ts
 * import { consoleLogger } from "./logger.ts";
 * const log = consoleLogger("[demo]", "warn");
 * log.info("not printed");
 * ```
 */
export function consoleLogger(prefix: string, level: LogLevel = "warn"): Logger {
  const min = LEVELS[level];
  const at = (lvl: LogLevel) => (msg: string, ...args: unknown[]) => {
    if (LEVELS[lvl] >= min) console.error(`${prefix} ${lvl.toUpperCase()} ${msg}`, ...args);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
