/**
 * The runner's CPU count: cgroup quota files parsed from sample contents, and
 * read from sample `/proc` and `/sys/fs/cgroup` trees laid out as a cgroup v2
 * container, a v1 container and a v1 host process see them.
 */

import assert from "node:assert/strict";
import {
  availableCpus,
  cgroupCpuLimit,
  cpusFromCfs,
  cpusFromCpuMax,
} from "../../src/runner/cpu_quota.ts";

Deno.test("cpusFromCpuMax() rounds a v2 quota up to whole CPUs, at least 1", () => {
  assert.equal(cpusFromCpuMax("100000 100000\n"), 1);
  assert.equal(cpusFromCpuMax("150000 100000\n"), 2);
  assert.equal(cpusFromCpuMax("200000 100000"), 2);
  assert.equal(cpusFromCpuMax("10000 100000\n"), 1);
  assert.equal(cpusFromCpuMax("400000 50000\n"), 8);
  // The period may be left out when writing; reading, the kernel always prints it.
  assert.equal(cpusFromCpuMax("300000"), 3);
});

Deno.test("cpusFromCpuMax() reads no limit from max and from what is not a cpu.max", () => {
  assert.equal(cpusFromCpuMax("max 100000\n"), undefined);
  assert.equal(cpusFromCpuMax(""), undefined);
  assert.equal(cpusFromCpuMax("abc 100000"), undefined);
  assert.equal(cpusFromCpuMax("0 100000"), undefined);
  assert.equal(cpusFromCpuMax("100000 0"), undefined);
  assert.equal(cpusFromCpuMax("1 2 3"), undefined);
});

Deno.test("cpusFromCfs() rounds a v1 quota up; -1 is no limit", () => {
  assert.equal(cpusFromCfs("50000\n", "100000\n"), 1);
  assert.equal(cpusFromCfs("250000\n", "100000\n"), 3);
  assert.equal(cpusFromCfs("-1\n", "100000\n"), undefined);
  assert.equal(cpusFromCfs("x", "100000"), undefined);
  assert.equal(cpusFromCfs("100000", ""), undefined);
});

/** Writes `files` (path → content) under a fresh directory; returns it and a remover. */
async function tree(files: Record<string, string>): Promise<{ root: string } & AsyncDisposable> {
  const root = await Deno.makeTempDir({ prefix: "flame-cgroup-" });
  for (const [path, text] of Object.entries(files)) {
    const full = `${root}${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return { root, [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }) };
}

const V2_MOUNT =
  "35 30 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw\n";

Deno.test("cgroupCpuLimit() reads a v2 container's cpu.max (docker --cpus 1.5)", async () => {
  await using t = await tree({
    "/proc/self/cgroup": "0::/\n",
    "/proc/self/mountinfo": `1 0 0:1 / / rw - overlay overlay rw\n${V2_MOUNT}`,
    "/sys/fs/cgroup/cpu.max": "150000 100000\n",
  });
  assert.equal(cgroupCpuLimit({ root: t.root }), 2);
});

Deno.test("cgroupCpuLimit() takes the smallest quota over a v2 cgroup and its ancestors", async () => {
  await using t = await tree({
    "/proc/self/cgroup": "0::/system.slice/app.service\n",
    "/proc/self/mountinfo": V2_MOUNT,
    "/sys/fs/cgroup/system.slice/app.service/cpu.max": "max 100000\n",
    "/sys/fs/cgroup/system.slice/cpu.max": "300000 100000\n",
  });
  assert.equal(cgroupCpuLimit({ root: t.root }), 3);
});

Deno.test("cgroupCpuLimit() reads nothing when every v2 level says max", async () => {
  await using t = await tree({
    "/proc/self/cgroup": "0::/user.slice\n",
    "/proc/self/mountinfo": V2_MOUNT,
    "/sys/fs/cgroup/user.slice/cpu.max": "max 100000\n",
  });
  assert.equal(cgroupCpuLimit({ root: t.root }), undefined);
});

Deno.test("cgroupCpuLimit() reads a v1 container, whose path names the host's cgroup", async () => {
  // Without a cgroup namespace the container's /proc/self/cgroup names its
  // cgroup on the host, and the mount's root is that same path.
  const host = "/docker/4f1c0e2d";
  await using t = await tree({
    "/proc/self/cgroup": `12:memory:${host}\n4:cpu,cpuacct:${host}\n1:name=systemd:${host}\n`,
    "/proc/self/mountinfo":
      `40 35 0:36 ${host} /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n` +
      `41 35 0:37 ${host} /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n`,
    "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "50000\n",
    "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
  });
  assert.equal(cgroupCpuLimit({ root: t.root }), 1);
});

Deno.test("cgroupCpuLimit() reads v1 -1 quotas as no limit, in a hybrid layout", async () => {
  await using t = await tree({
    "/proc/self/cgroup": "2:cpuacct:/\n1:cpu:/\n0::/\n",
    "/proc/self/mountinfo": "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
    "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
    "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
  });
  assert.equal(cgroupCpuLimit({ root: t.root }), undefined);
});

Deno.test("cgroupCpuLimit() finds the usual mount points without mountinfo", async () => {
  await using t = await tree({
    "/proc/self/cgroup": "0::/\n",
    "/sys/fs/cgroup/cpu.max": "400000 100000\n",
  });
  assert.equal(cgroupCpuLimit({ root: t.root }), 4);
});

Deno.test("cgroupCpuLimit() is undefined where there is no /proc (not Linux)", async () => {
  await using t = await tree({ "/etc/hostname": "box\n" });
  assert.equal(cgroupCpuLimit({ root: t.root }), undefined);
});

Deno.test("availableCpus() caps a quota at the CPUs the process may run on", async () => {
  const schedulable = navigator.hardwareConcurrency;
  await using big = await tree({
    "/proc/self/cgroup": "0::/\n",
    "/sys/fs/cgroup/cpu.max": `${(schedulable + 4) * 100000} 100000\n`,
  });
  assert.equal(availableCpus({ root: big.root }), schedulable);
  await using small = await tree({
    "/proc/self/cgroup": "0::/\n",
    "/sys/fs/cgroup/cpu.max": "50000 100000\n",
  });
  assert.equal(availableCpus({ root: small.root }), 1);
  await using none = await tree({ "/proc/self/cgroup": "0::/\n" });
  assert.equal(availableCpus({ root: none.root }), schedulable);
});
