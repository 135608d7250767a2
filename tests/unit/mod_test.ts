/**
 * Pins the public API of the package entry points, so an accidental change
 * to what users can import fails here first.
 */

import assert from "node:assert/strict";
import * as mod from "../../mod.ts";
import * as runner from "../../runner.ts";

Deno.test("mod.ts exports exactly the public API", () => {
  assert.deepEqual(Object.keys(mod).sort(), [
    "AbortError",
    "BootError",
    "CodeSyncError",
    "DEFAULT_RUNNER_ENV",
    "DataCloneError",
    "DockerBackend",
    "LABEL_PARENT",
    "LABEL_PARENT_CONTAINER",
    "LABEL_PARENT_PROCESS",
    "LABEL_POOL",
    "LABEL_PROJECT",
    "LABEL_RUNNER",
    "LocalBackend",
    "PayloadTooLargeError",
    "Pool",
    "PoolClosedError",
    "ProcessBackend",
    "ProtocolError",
    "RemoteError",
    "RunnerExitedError",
    "TimeoutError",
    "closeOnSignals",
    "consoleLogger",
    "headroomPolicy",
  ]);
});

Deno.test("runner.ts exports only its version", () => {
  assert.deepEqual(Object.keys(runner), ["VERSION"]);
});

Deno.test("every exported error class sets its name and keeps its cause", () => {
  const cause = new Error("root");
  const cases: Error[] = [
    new mod.BootError("b", { cause }),
    new mod.TimeoutError("t", { cause }),
    new mod.AbortError("a", { cause }),
    new mod.PayloadTooLargeError("p", { size: 2, limit: 1, cause }),
    new mod.RunnerExitedError("r1", "gone", { cause }),
    new mod.DataCloneError("d", { cause }),
    new mod.ProtocolError("p", { cause }),
  ];
  for (const err of cases) {
    assert.equal(err.name, err.constructor.name);
    assert.equal(err.cause, cause);
  }
  assert.equal(new mod.PoolClosedError("p").name, "PoolClosedError");
  assert.equal(new mod.RemoteError({ name: "X", message: "m" }).name, "RemoteError");
});
