/**
 * What the CLI's commands share: argument parsing, the Docker client, the
 * engine-unreachable case and output formatting.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { DockerClient } from "../docker/client.ts";
import { DockerConnectionError } from "../docker/errors.ts";
import type { CliIo } from "./cli_io.ts";
import { ExitCode } from "./exit_code.ts";

/** The program name in messages. */
export const PROG = "flame-docker";

/** A wrong command line; exits 2 with its message. */
export class UsageError extends Error {
  /**
   * @param message What is wrong, naming the argument.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The options every command takes. */
export const COMMON_OPTIONS = {
  socket: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsOptionsConfig;

/**
 * Parses a command's arguments strictly; turns parseArgs' errors into
 * {@linkcode UsageError}s that name the argument and the command.
 *
 * @param command The command's name, for messages.
 * @param args Its arguments.
 * @param options Its options.
 * @returns The parsed values.
 */
export function parseCommand<T extends ParseArgsOptionsConfig>(
  command: string,
  args: string[],
  options: T,
): ReturnType<typeof parseArgs<{ options: T; strict: true; allowPositionals: false }>>["values"] {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw usageFrom(error, command);
  }
}

/**
 * Turns a parseArgs error into a {@linkcode UsageError}.
 *
 * @param error What parseArgs threw.
 * @param command The command, or `undefined` for the global options.
 * @returns The usage error.
 */
export function usageFrom(error: unknown, command: string | undefined): UsageError {
  const where = command === undefined ? "" : ` for "${command}"`;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  const code = (error as { code?: string }).code;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && quoted !== undefined) {
    return new UsageError(`Unknown option "${quoted}"${where}`);
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL" && quoted !== undefined) {
    return new UsageError(`Unexpected argument "${quoted}"${where}`);
  }
  return new UsageError(`${message.replace(/\.$/, "")}${where}`);
}

/**
 * A client for the socket given with `--socket`, else the discovered one.
 *
 * @param socket The `--socket` value.
 * @returns The client; the caller closes it.
 */
export function clientFor(socket: string | undefined): DockerClient {
  return new DockerClient({
    ...(socket === undefined ? {} : { socketPath: socket }),
    timeout: 30_000,
  });
}

/**
 * Reports an engine that cannot be reached and returns exit code 3; other
 * errors are rethrown.
 *
 * @param error What the client threw.
 * @param io Where to write.
 * @returns {@linkcode ExitCode.Unreachable}.
 */
export function unreachable(error: unknown, io: CliIo): number {
  if (!(error instanceof DockerConnectionError)) throw error;
  io.err(`${PROG}: ${error.message}`);
  io.err(`Run "${PROG} doctor" to see what is wrong.`);
  return ExitCode.Unreachable;
}

/**
 * Formats a duration in seconds as `42s`, `5m`, `3h`, `2d`.
 *
 * @param seconds The duration.
 * @returns The short form.
 */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/**
 * Lays out rows as a left-aligned table, columns two spaces apart.
 *
 * @param head The column titles.
 * @param rows The cells.
 * @returns The lines.
 */
export function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(head), ...rows.map(line)];
}
