/**
 * How many CPUs this process is given, to size a runner's call workers: the
 * CPU quota of the process's cgroup and of every cgroup above it (v2
 * `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`), rounded up,
 * capped by `navigator.hardwareConcurrency` (the CPUs it may be scheduled on);
 * without a quota, `navigator.hardwareConcurrency`. A container started with
 * `--cpus 1.5` gets 2 workers on any host.
 *
 * The parsers are pure functions over the files' text; {@linkcode cgroupCpuLimit}
 * reads the files, under a root directory that tests point at sample trees.
 *
 * @module
 */

/**
 * CPUs a cgroup v2 `cpu.max` allows: `"<quota> <period>"` in microseconds, or
 * `"max <period>"` for no limit.
 *
 * @param text The file's content.
 * @returns The quota in CPUs rounded up (at least 1), or `undefined` when there is no limit
 * or the text is not a `cpu.max` value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cpusFromCpuMax } from "./cpu_quota.ts";
 *
 * assert.equal(cpusFromCpuMax("150000 100000\n"), 2);
 * assert.equal(cpusFromCpuMax("max 100000\n"), undefined);
 * ```
 */
export function cpusFromCpuMax(text: string): number | undefined {
  const [quota, period = "100000", ...rest] = text.trim().split(/\s+/);
  if (quota === undefined || quota === "max" || rest.length > 0) return undefined;
  return cpusFromQuota(quota, period);
}

/**
 * CPUs a cgroup v1 CFS quota allows.
 *
 * @param quotaText `cpu.cfs_quota_us` (microseconds per period; `-1`: no limit).
 * @param periodText `cpu.cfs_period_us`.
 * @returns The quota in CPUs rounded up (at least 1), or `undefined` when there is no limit
 * or a value is not a number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cpusFromCfs } from "./cpu_quota.ts";
 *
 * assert.equal(cpusFromCfs("50000\n", "100000\n"), 1);
 * assert.equal(cpusFromCfs("-1\n", "100000\n"), undefined);
 * ```
 */
export function cpusFromCfs(quotaText: string, periodText: string): number | undefined {
  return cpusFromQuota(quotaText.trim(), periodText.trim());
}

function cpusFromQuota(quotaText: string, periodText: string): number | undefined {
  if (!/^\d+$/.test(quotaText) || !/^\d+$/.test(periodText)) return undefined;
  const quota = Number(quotaText);
  const period = Number(periodText);
  if (quota <= 0 || period <= 0) return undefined;
  return Math.max(1, Math.ceil(quota / period));
}

/** One cgroup hierarchy the process is in, and where it is mounted. */
interface Hierarchy {
  /** 2 for the unified hierarchy, 1 for a v1 hierarchy with the `cpu` controller. */
  version: 1 | 2;
  /** The process's cgroup path in the hierarchy (from `/proc/self/cgroup`). */
  path: string;
  /** The hierarchy's mount point and the cgroup path mounted there (from `mountinfo`). */
  mount?: { point: string; root: string };
}

/** The process's cgroups that can carry a CPU quota, from `/proc/self/cgroup`. */
function hierarchies(cgroupText: string): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const line of cgroupText.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (m === null) continue;
    const [, id, controllers, path] = m;
    if (id === "0" && controllers === "") out.push({ version: 2, path: path! });
    else if (controllers!.split(",").includes("cpu")) out.push({ version: 1, path: path! });
  }
  return out;
}

/** Unescapes a `mountinfo` field (`\040` for a space, and so on). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Finds where each hierarchy is mounted, from `/proc/self/mountinfo`. */
function findMounts(found: Hierarchy[], mountinfo: string): void {
  for (const line of mountinfo.split("\n")) {
    const [left, right] = line.split(" - ");
    if (left === undefined || right === undefined) continue;
    const fields = left.split(" ");
    const [fsType, , superOptions = ""] = right.split(" ");
    const root = fields[3];
    const point = fields[4];
    if (root === undefined || point === undefined) continue;
    const mount = { point: unescapeMountField(point), root: unescapeMountField(root) };
    for (const h of found) {
      if (h.mount !== undefined) continue;
      if (h.version === 2 && fsType === "cgroup2") h.mount = mount;
      if (h.version === 1 && fsType === "cgroup" && superOptions.split(",").includes("cpu")) {
        h.mount = mount;
      }
    }
  }
}

/** Options for {@linkcode cgroupCpuLimit}. */
export interface CgroupCpuLimitOptions {
  /**
   * Directory that stands for `/` (tests point it at a tree of sample files).
   *
   * @default {"/"}
   */
  root?: string;
}

/** Reads a file when this process may, without a permission prompt. */
function readIfAllowed(path: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return undefined;
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The CPU quota of this process's cgroups: the smallest over its cgroup and
 * every ancestor, in each hierarchy that has one (v2 `cpu.max`; v1
 * `cpu.cfs_quota_us` over `cpu.cfs_period_us`).
 *
 * @param options Where `/` is (for tests).
 * @returns CPUs rounded up (at least 1), or `undefined` when no cgroup sets a quota
 * (or the files cannot be read: not Linux, no read permission).
 *
 * @example
 * ```ts
 * import { cgroupCpuLimit } from "./cpu_quota.ts";
 * const cpus = cgroupCpuLimit();
 * console.assert(cpus === undefined || cpus >= 1);
 * ```
 */
export function cgroupCpuLimit(options: CgroupCpuLimitOptions = {}): number | undefined {
  const root = (options.root ?? "/").replace(/\/+$/, "");
  const cgroupText = readIfAllowed(`${root}/proc/self/cgroup`);
  if (cgroupText === undefined) return undefined;
  const found = hierarchies(cgroupText);
  findMounts(found, readIfAllowed(`${root}/proc/self/mountinfo`) ?? "");
  let limit: number | undefined;
  for (const h of found) {
    // Without mountinfo, the usual mount points.
    const mount = h.mount ??
      { point: h.version === 2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu", root: "/" };
    // A v1 container sees its own cgroup at the mount's root; its path names the host's.
    const relative = mount.root !== "/" && h.path.startsWith(mount.root)
      ? h.path.slice(mount.root.length)
      : h.path;
    const parts = relative.split("/").filter((p) => p !== "" && p !== "." && p !== "..");
    for (let depth = parts.length; depth >= 0; depth--) {
      const dir = `${root}${mount.point.replace(/\/+$/, "")}/${parts.slice(0, depth).join("/")}`
        .replace(/\/+$/, "");
      const cpus = h.version === 2 ? v2Limit(dir) : v1Limit(dir);
      if (cpus !== undefined) limit = Math.min(limit ?? Infinity, cpus);
    }
  }
  return limit;
}

function v2Limit(dir: string): number | undefined {
  const text = readIfAllowed(`${dir}/cpu.max`);
  return text === undefined ? undefined : cpusFromCpuMax(text);
}

function v1Limit(dir: string): number | undefined {
  const quota = readIfAllowed(`${dir}/cpu.cfs_quota_us`);
  const period = readIfAllowed(`${dir}/cpu.cfs_period_us`);
  return quota === undefined || period === undefined ? undefined : cpusFromCfs(quota, period);
}

/**
 * The CPUs this process is given: its cgroup quota (see
 * {@linkcode cgroupCpuLimit}) capped by `navigator.hardwareConcurrency`, or
 * `navigator.hardwareConcurrency` alone without a quota; at least 1.
 *
 * @param options Where `/` is (for tests).
 * @returns A whole number of CPUs.
 *
 * @example
 * ```ts
 * import { availableCpus } from "./cpu_quota.ts";
 * console.assert(availableCpus() >= 1);
 * ```
 */
export function availableCpus(options: CgroupCpuLimitOptions = {}): number {
  const schedulable = Math.max(1, Math.floor(globalThis.navigator?.hardwareConcurrency ?? 1));
  const quota = cgroupCpuLimit(options);
  return quota === undefined ? schedulable : Math.max(1, Math.min(quota, schedulable));
}
