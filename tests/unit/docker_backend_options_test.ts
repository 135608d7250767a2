/**
 * `DockerBackend`'s options: the defaults table and the duration validations
 * (no engine needed).
 */

import assert from "node:assert/strict";
import { DEFAULTS, resolveDockerBackendOptions } from "../../src/backends/docker/options.ts";

Deno.test("resolveDockerBackendOptions() fills in every default", () => {
  const resolved = resolveDockerBackendOptions({ image: "x", network: "n" });
  assert.equal(resolved.startTimeout, 30_000);
  assert.equal(resolved.stopTimeout, 5_000);
  for (const [key, value] of Object.entries(DEFAULTS)) {
    assert.equal(resolved[key as keyof typeof DEFAULTS], value, key);
  }
});

Deno.test("resolveDockerBackendOptions() keeps given values over the defaults", () => {
  const resolved = resolveDockerBackendOptions({
    startTimeout: 1000,
    stopTimeout: 0,
    pull: "never",
  });
  assert.equal(resolved.startTimeout, 1000);
  assert.equal(resolved.stopTimeout, 0);
  assert.equal(resolved.pull, "never");
});

Deno.test("resolveDockerBackendOptions() rejects a bad startTimeout naming it", () => {
  for (const startTimeout of [0, -1, Infinity, NaN]) {
    assert.throws(() => resolveDockerBackendOptions({ startTimeout }), RangeError);
    assert.throws(() => resolveDockerBackendOptions({ startTimeout }), /"startTimeout"/);
  }
});

Deno.test("resolveDockerBackendOptions() rejects a bad stopTimeout naming it", () => {
  for (const stopTimeout of [-1, Infinity, NaN]) {
    assert.throws(() => resolveDockerBackendOptions({ stopTimeout }), RangeError);
    assert.throws(() => resolveDockerBackendOptions({ stopTimeout }), /"stopTimeout"/);
  }
  assert.throws(
    () => resolveDockerBackendOptions({ stopTimeout: "5" as unknown as number }),
    TypeError,
  );
});
