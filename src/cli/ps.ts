/**
 * `flame-docker ps`: the runner containers on the engine, as a table or JSON.
 *
 * @module
 */

import {
  LABEL_PARENT,
  LABEL_PARENT_CONTAINER,
  LABEL_PARENT_PROCESS,
  LABEL_POOL,
  LABEL_PROJECT,
} from "../backends/docker/labels.ts";
import type { ContainerSummary } from "../docker/types.ts";
import {
  clientFor,
  COMMON_OPTIONS,
  formatAge,
  parseCommand,
  PROG,
  table,
  unreachable,
} from "./_common.ts";
import type { CliIo } from "./cli_io.ts";
import { ExitCode } from "./exit_code.ts";

/** Help text of `ps`. */
export const PS_HELP = `Usage: ${PROG} ps [--all] [--json] [--pool NAME] [--socket PATH]

Lists runner containers (label ${LABEL_PROJECT}=runner): name, pool, parent
instance, age, state and status. Only running ones unless --all.

Options:
  --all          include stopped and exited containers
  --json         print a JSON array instead of a table
  --pool NAME    only the runners of pool NAME
  --socket PATH  the Docker socket (path, unix:// or tcp:// URL)
  -h, --help     this help

Exit codes: 0 listed (even when empty), 2 usage error, 3 engine unreachable.`;

/** One runner container, as `ps --json` prints it. */
export interface PsEntry {
  /** Container id. */
  id: string;
  /** Container name, without the leading `/`. */
  name: string;
  /** The pool's name (`dev.flame-docker.pool`). */
  pool: string | null;
  /** The parent instance id (`dev.flame-docker.parent`). */
  parent: string | null;
  /** `<hostname>:<pid>` of the parent process. */
  parentProcess: string | null;
  /** The parent's container id, when it ran in a container. */
  parentContainer: string | null;
  /** Image name. */
  image: string;
  /** Creation time, ISO 8601. */
  created: string;
  /** Seconds since creation. */
  ageSeconds: number;
  /** Such as `"running"` or `"exited"`. */
  state: string;
  /** Such as `"Up 2 minutes"`. */
  status: string;
}

function entryOf(c: ContainerSummary, now: number): PsEntry {
  return {
    id: c.Id,
    name: (c.Names[0] ?? c.Id.slice(0, 12)).replace(/^\//, ""),
    pool: c.Labels[LABEL_POOL] ?? null,
    parent: c.Labels[LABEL_PARENT] ?? null,
    parentProcess: c.Labels[LABEL_PARENT_PROCESS] ?? null,
    parentContainer: c.Labels[LABEL_PARENT_CONTAINER] ?? null,
    image: c.Image,
    created: new Date(c.Created * 1000).toISOString(),
    ageSeconds: Math.max(0, Math.floor(now / 1000 - c.Created)),
    state: c.State,
    status: c.Status,
  };
}

/**
 * Runs `ps`.
 *
 * @param args The arguments after `ps`.
 * @param io Where to write.
 * @returns The exit code.
 */
export async function ps(args: string[], io: CliIo): Promise<number> {
  const values = parseCommand("ps", args, {
    ...COMMON_OPTIONS,
    all: { type: "boolean" },
    json: { type: "boolean" },
    pool: { type: "string" },
  });
  if (values.help) {
    io.out(PS_HELP);
    return ExitCode.Ok;
  }
  await using client = clientFor(values.socket);
  const label = [`${LABEL_PROJECT}=runner`];
  if (values.pool !== undefined) label.push(`${LABEL_POOL}=${values.pool}`);
  let containers: ContainerSummary[];
  try {
    containers = await client.containerList({ all: values.all ?? false, filters: { label } });
  } catch (error) {
    return unreachable(error, io);
  }
  const now = Date.now();
  const entries = containers.map((c) => entryOf(c, now))
    .sort((a, b) => (a.pool ?? "").localeCompare(b.pool ?? "") || a.ageSeconds - b.ageSeconds);
  if (values.json) {
    io.out(JSON.stringify(entries, null, 2));
    return ExitCode.Ok;
  }
  if (entries.length === 0) {
    io.out(`No runner containers${values.all ? "" : " running (--all includes exited ones)"}.`);
    return ExitCode.Ok;
  }
  const rows = entries.map((e) => [
    e.name,
    e.pool ?? "-",
    e.parent ?? "-",
    formatAge(e.ageSeconds),
    e.state,
    e.status,
  ]);
  for (const line of table(["NAME", "POOL", "PARENT", "AGE", "STATE", "STATUS"], rows)) {
    io.out(line);
  }
  return ExitCode.Ok;
}
