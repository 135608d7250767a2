/**
 * The parent-liveness rules shared by `DockerBackend.reap()` and the CLI, for
 * parents that are processes (no engine needed).
 */

import assert from "node:assert/strict";
import { LABEL_PARENT_PROCESS } from "../../src/backends/docker/labels.ts";
import { parentLiveness } from "../../src/backends/docker/reap.ts";
import { DockerClient } from "../../src/docker/client.ts";

const host = Deno.hostname();
const byProcess = (value: string) => ({ [LABEL_PARENT_PROCESS]: value });

Deno.test("parentLiveness() keeps what it cannot check", async () => {
  await using client = new DockerClient({ socketPath: "/nonexistent.sock" });
  for (const labels of [{}, byProcess(""), byProcess(`${host}:`), byProcess(`other-host:1`)]) {
    const verdict = await parentLiveness(client, labels);
    assert.equal(verdict.alive, true, JSON.stringify(labels));
    assert.match(verdict.reason, /cannot tell/);
  }
});

Deno.test("parentLiveness() sees a live and a gone parent process on this host", async () => {
  await using client = new DockerClient({ socketPath: "/nonexistent.sock" });
  const child = new Deno.Command("true", { stdout: "null", stderr: "null" }).spawn();
  await child.status;
  const gone = await parentLiveness(client, byProcess(`${host}:${child.pid}`));
  assert.deepEqual(gone, { alive: false, reason: `parent process ${host}:${child.pid} is gone` });
  const alive = await parentLiveness(client, byProcess(`${host}:${Deno.pid}`), { pid: -1 });
  assert.equal(alive.alive, true);
  // The caller's own pid under another instance id is an earlier life of the caller.
  const earlier = await parentLiveness(client, byProcess(`${host}:${Deno.pid}`));
  assert.equal(earlier.alive, false);
  const elsewhere = await parentLiveness(client, byProcess(`${host}:${child.pid}`), {
    hostname: "not-this-host",
  });
  assert.equal(elsewhere.alive, true);
});
