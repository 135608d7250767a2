/**
 * `cli.ts` as a program: help, version, usage errors and exit codes, then
 * `ps`, `reap` and `doctor` against the real engine. Every container a test
 * creates is labelled with a pool of its own and removed, even on failure.
 */

import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import {
  LABEL_PARENT,
  LABEL_PARENT_PROCESS,
  LABEL_POOL,
  LABEL_PROJECT,
} from "../../src/backends/docker/labels.ts";
import {
  createFileNetwork,
  docker,
  DOCKER_SOCKET,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
  TEST_LABEL,
} from "../_helpers/docker.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const suffix = crypto.randomUUID().slice(0, 8);
const NETWORK = `flame-cli-test-${suffix}`;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a subprocess. */
async function cli(...args: string[]): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** A pid on this host that no process has: one of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true", { stdout: "null", stderr: "null" }).spawn();
  await child.status;
  return child.pid;
}

/** Creates (and with `running`, starts) a labelled container on the test network. */
async function runnerContainer(
  name: string,
  pool: string,
  parentPid: number,
  running = false,
): Promise<string> {
  const labels = [
    `${LABEL_PROJECT}=runner`,
    `${LABEL_POOL}=${pool}`,
    `${LABEL_PARENT}=cli-test-${suffix}`,
    `${LABEL_PARENT_PROCESS}=${Deno.hostname()}:${parentPid}`,
    TEST_LABEL,
  ].flatMap((l) => ["--label", l]);
  const idle = ["/usr/local/bin/deno", "eval", "setTimeout(() => {}, 600_000)"];
  return await docker(
    running ? "run" : "create",
    ...(running ? ["-d"] : []),
    "--name",
    name,
    "--network",
    NETWORK,
    ...labels,
    TEST_IMAGE,
    ...idle,
  );
}

/** Names of the containers (any state) of a pool. */
async function namesOf(pool: string): Promise<string[]> {
  const out = await docker(
    "ps",
    "-a",
    "--format",
    "{{.Names}}",
    "--filter",
    `label=${LABEL_POOL}=${pool}`,
  );
  return out === "" ? [] : out.split("\n").sort();
}

/** Removes every container of a pool. */
async function removePool(pool: string): Promise<void> {
  const ids = await docker("ps", "-aq", "--filter", `label=${LABEL_POOL}=${pool}`);
  if (ids !== "") await docker("rm", "-f", ...ids.split("\n"));
}

if (!ignoreWithoutDocker) {
  await ensureTestImage();
  await createFileNetwork(NETWORK);
}

Deno.test("cli --help lists the commands and the exit codes", async () => {
  for (const flag of ["--help", "-h"]) {
    const r = await cli(flag);
    assert.equal(r.code, 0, r.stderr);
    for (const word of ["ps", "reap", "doctor", "--socket", "Exit codes"]) {
      assert.ok(r.stdout.includes(word), `${flag}: no ${word} in\n${r.stdout}`);
    }
  }
});

Deno.test("cli <command> --help documents each command and its options", async () => {
  const expected: Record<string, string[]> = {
    ps: ["--all", "--json", "--pool"],
    reap: ["--dry-run", "--all", "--yes", "--pool"],
    doctor: ["--network", "--image"],
  };
  for (const [command, options] of Object.entries(expected)) {
    for (const args of [[command, "--help"], ["--help", command]]) {
      const r = await cli(...args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Usage: flame-docker ${command}`));
      for (const option of [...options, "--socket", "Exit codes"]) {
        assert.ok(r.stdout.includes(option), `${args.join(" ")}: no ${option}`);
      }
    }
  }
});

Deno.test("cli --version prints the version from deno.json", async () => {
  for (const flag of ["--version", "-V"]) {
    const r = await cli(flag);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), denoJson.version);
  }
});

Deno.test("cli usage errors exit 2 and name the bad argument", async () => {
  const cases: [string[], RegExp][] = [
    [[], /Missing command/],
    [["frob"], /Unknown command "frob"/],
    [["ps", "--bogus"], /Unknown option "--bogus" for "ps"/],
    [["--bogus", "ps"], /Unknown option "--bogus"/],
    [["ps", "--pool"], /--pool/],
    [["--socket"], /--socket/],
    [["reap", "extra"], /Unexpected argument "extra" for "reap"/],
    [["doctor", "--all"], /Unknown option "--all" for "doctor"/],
    [["ps", "--json=yes"], /--json/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /--help/);
  }
});

Deno.test("cli exits 3 naming the socket when no engine answers there", async () => {
  for (const args of [["ps"], ["reap", "--dry-run"]]) {
    const r = await cli("--socket", "/nonexistent.sock", ...args);
    assert.equal(r.code, 3, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /\/nonexistent\.sock/);
    assert.match(r.stderr, /missing/);
  }
  const r = await cli("doctor", "--socket", "/nonexistent.sock");
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /✗ socket unix:\/\/\/nonexistent\.sock \(from --socket\): missing/);
  assert.match(r.stdout, /fix: /);
  assert.match(r.stderr, /\/nonexistent\.sock/);
});

Deno.test({
  name: "[docker] cli ps lists labelled containers as a table and as JSON",
  ignore: ignoreWithoutDocker,
  async fn() {
    const pool = `cli-ps-${suffix}`;
    const up = `flame-cli-ps-up-${suffix}`;
    const created = `flame-cli-ps-created-${suffix}`;
    try {
      await runnerContainer(up, pool, Deno.pid, true);
      await runnerContainer(created, pool, Deno.pid);

      const table = await cli("--socket", DOCKER_SOCKET, "ps", "--pool", pool);
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.trim().split("\n");
      assert.match(lines[0]!, /^NAME\s+POOL\s+PARENT\s+AGE\s+STATE\s+STATUS$/);
      assert.equal(lines.length, 2, table.stdout);
      assert.match(
        lines[1]!,
        new RegExp(`^${up}\\s+${pool}\\s+cli-test-${suffix}\\s+\\d+s\\s+running\\s+Up`),
      );

      const all = await cli("ps", "--all", "--pool", pool, "--socket", DOCKER_SOCKET);
      assert.equal(all.code, 0, all.stderr);
      assert.ok(all.stdout.includes(created), all.stdout);
      assert.ok(all.stdout.includes(up), all.stdout);

      const json = await cli("ps", "--all", "--json", "--pool", pool, "--socket", DOCKER_SOCKET);
      assert.equal(json.code, 0, json.stderr);
      const entries = JSON.parse(json.stdout) as Record<string, unknown>[];
      assert.deepEqual(entries.map((e) => e.name).sort(), [created, up].sort());
      const byName = new Map(entries.map((e) => [e.name, e]));
      assert.equal(byName.get(up)?.state, "running");
      assert.equal(byName.get(created)?.state, "created");
      for (const e of entries) {
        assert.equal(e.pool, pool);
        assert.equal(e.parent, `cli-test-${suffix}`);
        assert.equal(e.parentProcess, `${Deno.hostname()}:${Deno.pid}`);
        assert.equal(e.image, TEST_IMAGE);
        assert.equal(typeof e.ageSeconds, "number");
        assert.ok(!Number.isNaN(Date.parse(e.created as string)));
      }

      const none = await cli("ps", "--json", "--pool", `${pool}-none`, "--socket", DOCKER_SOCKET);
      assert.equal(none.code, 0, none.stderr);
      assert.deepEqual(JSON.parse(none.stdout), []);
    } finally {
      await removePool(pool);
    }
  },
});

Deno.test({
  name: "[docker] cli reap removes a dead parent's leftover, never a live parent's runner",
  ignore: ignoreWithoutDocker,
  async fn() {
    const pool = `cli-reap-${suffix}`;
    const orphan = `flame-cli-reap-orphan-${suffix}`;
    const alive = `flame-cli-reap-alive-${suffix}`;
    const pid = await deadPid();
    try {
      await runnerContainer(orphan, pool, pid);
      await runnerContainer(alive, pool, Deno.pid, true);

      const dry = await cli("--socket", DOCKER_SOCKET, "reap", "--dry-run", "--pool", pool);
      assert.equal(dry.code, 1, dry.stdout + dry.stderr);
      assert.match(
        dry.stdout,
        new RegExp(`would remove ${orphan} \\(parent process .*:${pid} is gone\\)`),
      );
      assert.ok(!dry.stdout.includes(alive), dry.stdout);
      assert.deepEqual(await namesOf(pool), [alive, orphan].sort(), "--dry-run removed something");

      const real = await cli("--socket", DOCKER_SOCKET, "reap", "--pool", pool);
      assert.equal(real.code, 0, real.stdout + real.stderr);
      assert.match(real.stdout, new RegExp(`removed ${orphan}`));
      assert.deepEqual(await namesOf(pool), [alive]);

      const again = await cli("--socket", DOCKER_SOCKET, "reap", "--pool", pool);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stdout, /Nothing to reap/);
      assert.deepEqual(await namesOf(pool), [alive]);

      const unconfirmed = await cli("--socket", DOCKER_SOCKET, "reap", "--all", "--pool", pool);
      assert.equal(unconfirmed.code, 2, unconfirmed.stdout + unconfirmed.stderr);
      assert.match(unconfirmed.stderr, /--yes/);
      assert.deepEqual(await namesOf(pool), [alive]);

      const forced = await cli("--socket", DOCKER_SOCKET, "reap", "--all", "--yes", "--pool", pool);
      assert.equal(forced.code, 0, forced.stdout + forced.stderr);
      assert.match(forced.stdout, new RegExp(`removed ${alive}`));
      assert.deepEqual(await namesOf(pool), []);
    } finally {
      await removePool(pool);
    }
  },
});

Deno.test({
  name: "[docker] cli doctor passes with the test network and image",
  ignore: ignoreWithoutDocker,
  async fn() {
    const r = await cli(
      "doctor",
      "--socket",
      DOCKER_SOCKET,
      "--network",
      NETWORK,
      "--image",
      TEST_IMAGE,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /✗/);
    for (
      const check of [
        /✓ socket unix:\/\/.* connected/,
        /✓ permissions: /,
        /✓ engine .*API/,
        new RegExp(`✓ network "${NETWORK}" exists: user-defined, driver bridge, internal`),
        new RegExp(`✓ image "${TEST_IMAGE}" is present`),
        /✓ image command looks like a runner/,
        /✓ parent reachable: /,
        /0 failed/,
      ]
    ) {
      assert.match(r.stdout, check);
    }
  },
});

Deno.test({
  name: "[docker] cli doctor exits 1 for a missing network and says how to create it",
  ignore: ignoreWithoutDocker,
  async fn() {
    const missing = `missing-net-${suffix}`;
    const r = await cli("doctor", "--socket", DOCKER_SOCKET, "--network", missing);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`✗ network "${missing}" does not exist`));
    assert.match(r.stdout, new RegExp(`fix: docker network create ${missing}`));
    assert.match(r.stdout, /✓ engine /);
    assert.match(r.stdout, /1 failed/);
  },
});

Deno.test({
  name: "[docker] cli teardown: the test network is removed and nothing of ours is left",
  ignore: ignoreWithoutDocker,
  async fn() {
    const left = await docker(
      "ps",
      "-aq",
      "--filter",
      `label=${LABEL_PARENT}=cli-test-${suffix}`,
    );
    if (left !== "") await docker("rm", "-f", ...left.split("\n"));
    await docker("network", "rm", NETWORK);
    assert.equal(left, "", "containers were left behind");
  },
});
