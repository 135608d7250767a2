/**
 * `flame-docker reap`: removes the runner containers of parents that are gone,
 * by the same rules as `DockerBackend.reap()`.
 *
 * @module
 */

import { LABEL_POOL, LABEL_PROJECT } from "../backends/docker/labels.ts";
import { findLeftovers, type Leftover } from "../backends/docker/reap.ts";
import type { DockerClient } from "../docker/client.ts";
import { DockerError } from "../docker/errors.ts";
import { clientFor, COMMON_OPTIONS, parseCommand, PROG, unreachable } from "./_common.ts";
import type { CliIo } from "./cli_io.ts";
import { ExitCode } from "./exit_code.ts";

/** Help text of `reap`. */
export const REAP_HELP =
  `Usage: ${PROG} reap [--dry-run] [--pool NAME] [--all --yes] [--socket PATH]

Removes runner containers (label ${LABEL_PROJECT}=runner) whose parent is gone:
its parent container no longer runs, or its parent process on this host no
longer exists. Runners of live parents, and of parents on other hosts (which
cannot be checked from here), are kept.

Options:
  --dry-run      list what would be removed; remove nothing
  --pool NAME    only the runners of pool NAME
  --all          every runner container, whatever its parent (needs --yes)
  --yes          confirm --all
  --socket PATH  the Docker socket (path, unix:// or tcp:// URL)
  -h, --help     this help

Exit codes: 0 nothing left over (or all of it removed), 1 --dry-run found
leftovers or a removal failed, 2 usage error (--all without --yes),
3 engine unreachable.`;

function nameOf(leftover: Leftover): string {
  const c = leftover.container;
  return (c.Names[0] ?? c.Id.slice(0, 12)).replace(/^\//, "");
}

async function remove(client: DockerClient, id: string): Promise<void> {
  try {
    await client.containerRemove(id, { force: true });
  } catch (error) {
    // 404: gone already (AutoRemove); 409: its removal is already under way.
    if (!(error instanceof DockerError && (error.notFound || error.conflict))) throw error;
  }
}

/**
 * Runs `reap`.
 *
 * @param args The arguments after `reap`.
 * @param io Where to write.
 * @returns The exit code.
 */
export async function reap(args: string[], io: CliIo): Promise<number> {
  const values = parseCommand("reap", args, {
    ...COMMON_OPTIONS,
    "dry-run": { type: "boolean" },
    all: { type: "boolean" },
    yes: { type: "boolean" },
    pool: { type: "string" },
  });
  if (values.help) {
    io.out(REAP_HELP);
    return ExitCode.Ok;
  }
  const dryRun = values["dry-run"] ?? false;
  await using client = clientFor(values.socket);
  let leftovers: Leftover[];
  try {
    if (values.all) {
      const label = [`${LABEL_PROJECT}=runner`];
      if (values.pool !== undefined) label.push(`${LABEL_POOL}=${values.pool}`);
      const all = await client.containerList({ all: true, filters: { label } });
      leftovers = all.map((container) => ({ container, reason: "--all" }));
    } else {
      leftovers = await findLeftovers(client, {
        ...(values.pool === undefined ? {} : { pool: values.pool }),
      });
    }
  } catch (error) {
    return unreachable(error, io);
  }
  const scope = values.pool === undefined ? "" : ` of pool "${values.pool}"`;
  if (leftovers.length === 0) {
    io.out(
      values.all
        ? `No runner containers${scope}.`
        : `Nothing to reap: no runner containers${scope} of dead parents.`,
    );
    return ExitCode.Ok;
  }
  if (dryRun || (values.all && !values.yes)) {
    for (const l of leftovers) io.out(`would remove ${nameOf(l)} (${l.reason})`);
    if (!dryRun) {
      io.err(
        `${PROG}: Refusing to remove ${leftovers.length} container(s) with --all without --yes`,
      );
      return ExitCode.Usage;
    }
    io.out(`${leftovers.length} container(s) would be removed; run without --dry-run to remove.`);
    return ExitCode.Found;
  }
  let failed = 0;
  for (const l of leftovers) {
    try {
      await remove(client, l.container.Id);
      io.out(`removed ${nameOf(l)} (${l.reason})`);
    } catch (error) {
      failed++;
      io.err(`${PROG}: Cannot remove ${nameOf(l)}: ${(error as Error).message}`);
    }
  }
  io.out(
    `Removed ${leftovers.length - failed} container(s)${failed ? `, ${failed} failed` : ""}.`,
  );
  return failed === 0 ? ExitCode.Ok : ExitCode.Found;
}
