/**
 * The CLI's entry: global options, then a command (`ps`, `reap`, `doctor`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import denoJson from "../../deno.json" with { type: "json" };
import { PROG, UsageError, usageFrom } from "./_common.ts";
import type { CliIo } from "./cli_io.ts";
import { ExitCode } from "./exit_code.ts";
import { doctor } from "./doctor.ts";
import { ps } from "./ps.ts";
import { reap } from "./reap.ts";

/**
 * The package version the CLI belongs to (what `--version` prints).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runCli, VERSION } from "@flame/docker/cli";
 *
 * const lines: string[] = [];
 * await runCli(["--version"], { out: (line) => lines.push(line), err: () => {} });
 * assert.ok(lines[0]?.includes(VERSION));
 * ```
 */
export const VERSION: string = denoJson.version;

const HELP = `${PROG} ${VERSION}: inspect and clean up flame-docker runner containers

Usage: deno run -A jsr:@flame/docker/cli [--socket PATH] <command> [options]

Commands:
  ps       list runner containers (name, pool, parent, age, state)
  reap     remove runner containers whose parent is gone
  doctor   check the socket, engine, network, image and parent reachability

Global options:
  --socket PATH  the Docker socket: a path, unix:///path or tcp://host:port
                 (default: DOCKER_HOST, else $XDG_RUNTIME_DIR/docker.sock,
                 else /var/run/docker.sock); also accepted after the command
  -h, --help     this help; "<command> --help" for a command's
  -V, --version  the version

Exit codes:
  0  success
  1  a doctor check failed, reap --dry-run found leftovers, a removal failed,
     or the engine answered with an error
  2  usage error (unknown command or option, missing value)
  3  the Docker engine is unreachable`;

const COMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  ps,
  reap,
  doctor,
};

/** Writes to the console. */
export const consoleIo: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/**
 * Runs the CLI: the same commands as `deno run -A jsr:@flame/docker/cli`,
 * from code, with the output captured.
 *
 * @param args The command line, without the program.
 * @param io Where to write; by default the console.
 * @returns The exit code (see the help's "Exit codes" and {@linkcode ExitCode}).
 *
 * @example Capturing a command's output
 * ```ts
 * import assert from "node:assert/strict";
 * import { ExitCode, runCli } from "@flame/docker/cli";
 *
 * const out: string[] = [];
 * const err: string[] = [];
 * const io = { out: (line: string) => out.push(line), err: (line: string) => err.push(line) };
 *
 * assert.equal(await runCli(["--help"], io), ExitCode.Ok);
 * assert.ok(out.some((line) => line.includes("reap")));
 * assert.equal(await runCli(["frobnicate"], io), ExitCode.Usage);
 * assert.equal(await runCli(["--socket", "/nonexistent/docker.sock", "ps"], io), ExitCode.Unreachable);
 * ```
 */
export async function runCli(args: string[], io: CliIo = consoleIo): Promise<number> {
  try {
    // The command is the first positional argument; options before it are global.
    const { tokens } = parseArgs({
      args,
      options: { socket: { type: "string" } },
      strict: false,
      allowPositionals: true,
      tokens: true,
    });
    const at = tokens.find((t) => t.kind === "positional")?.index ?? args.length;
    const { values } = parseArgs({
      args: args.slice(0, at),
      options: {
        socket: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
      strict: true,
    });
    const name = args[at];
    if (values.help && name === undefined) {
      io.out(HELP);
      return ExitCode.Ok;
    }
    if (values.version) {
      io.out(VERSION);
      return ExitCode.Ok;
    }
    if (name === undefined) throw new UsageError("Missing command: expected ps, reap or doctor");
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (command === undefined) {
      throw new UsageError(`Unknown command "${name}": expected ps, reap or doctor`);
    }
    const rest = args.slice(at + 1);
    if (values.help) rest.push("--help");
    if (values.socket !== undefined) rest.unshift("--socket", values.socket);
    return await command(rest, io);
  } catch (error) {
    if (
      error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      const usage = error instanceof UsageError ? error : usageFrom(error, undefined);
      io.err(`${PROG}: ${usage.message} (see --help)`);
      return ExitCode.Usage;
    }
    io.err(`${PROG}: ${(error as Error).message}`);
    return ExitCode.Found;
  }
}
