/**
 * What a runner prints reaches the parent: each line of its stdout and stderr
 * as a `flame.runner.output` event and a log line, tagged with the runner id;
 * a flood is bounded (lines over the rate dropped and counted); a runner
 * container carries its runner id as a label. ProcessBackend and
 * DockerBackend.
 */

import assert from "node:assert/strict";
import {
  type Backend,
  type CallContext,
  DockerBackend,
  type FlameEvent,
  LABEL_RUNNER,
  type Logger,
  Pool,
  ProcessBackend,
} from "../../mod.ts";
import { waitFor } from "../_helpers/backends.ts";
import {
  containersOfPool,
  docker,
  ensureTestImage,
  ignoreWithoutDocker,
  TEST_IMAGE,
  TestNetwork,
} from "../_helpers/docker.ts";

/** What a pool reported: its events, and its log lines by level. */
function recorder() {
  const events: FlameEvent[] = [];
  const logs: Record<"debug" | "info" | "warn" | "error", string[]> = {
    debug: [],
    info: [],
    warn: [],
    error: [],
  };
  const logger: Logger = {
    debug: (m) => logs.debug.push(m),
    info: (m) => logs.info.push(m),
    warn: (m) => logs.warn.push(m),
    error: (m) => logs.error.push(m),
  };
  const output = () => events.filter((e) => e.name === "flame.runner.output");
  return { events, logs, logger, output, onEvent: (e: FlameEvent) => events.push(e) };
}

interface Case {
  kind: string;
  ignore: boolean;
  /** A backend, and what to clean up after. */
  make: () => Promise<{ backend: Backend; cleanup: () => Promise<void> }>;
}

const cases: Case[] = [
  {
    kind: "process",
    ignore: false,
    make: () =>
      Promise.resolve({ backend: new ProcessBackend(), cleanup: () => Promise.resolve() }),
  },
  {
    kind: "docker",
    ignore: ignoreWithoutDocker,
    make: async () => {
      await ensureTestImage();
      const network = await TestNetwork.create("output");
      return {
        backend: new DockerBackend({ image: TEST_IMAGE, network: network.name }),
        cleanup: () => network.remove(),
      };
    },
  },
];

for (const c of cases) {
  Deno.test({
    name:
      `[${c.kind}] a runner's stdout and stderr lines arrive as events and log lines naming the runner`,
    ignore: c.ignore,
    fn: async () => {
      const { backend, cleanup } = await c.make();
      const name = `output-${c.kind}-${crypto.randomUUID().slice(0, 8)}`;
      const r = recorder();
      try {
        await using pool = new Pool({
          backend,
          name,
          max: 1,
          logger: r.logger,
          onEvent: r.onEvent,
        });
        const runnerId = await pool.call(function (this: CallContext) {
          console.log("hello from stdout");
          console.error("hello from stderr");
          return this.runnerId;
        });
        const arrived = await waitFor(() => r.output().length >= 2, 10_000);
        assert.ok(arrived, `output events: ${JSON.stringify(r.output())}`);
        const lines = r.output().map((e) => e.attributes);
        for (const stream of ["stdout", "stderr"]) {
          const line = `hello from ${stream}`;
          assert.deepEqual(lines.filter((a) => a["flame.line"] === line), [{
            "flame.pool": name,
            "flame.runner.id": runnerId,
            "log.iostream": stream,
            "flame.line": line,
          }]);
        }
        assert.ok(
          r.logs.info.includes(`pool ${name}: runner ${runnerId} stdout: hello from stdout`),
          r.logs.info.join("\n"),
        );
        assert.ok(
          r.logs.warn.includes(`pool ${name}: runner ${runnerId} stderr: hello from stderr`),
          r.logs.warn.join("\n"),
        );
        if (backend instanceof DockerBackend) {
          const container = backend.containerOf(runnerId)!;
          const labels = JSON.parse(
            await docker("inspect", "--format", "{{json .Config.Labels}}", container),
          );
          assert.equal(labels[LABEL_RUNNER], runnerId);
          const listed = await docker("ps", "-q", "--filter", `label=${LABEL_RUNNER}=${runnerId}`);
          assert.equal(listed, container.slice(0, 12));
        }
      } finally {
        if (c.kind === "docker") {
          const left = await containersOfPool(name).catch(() => []);
          if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
        }
        await cleanup();
      }
    },
  });

  Deno.test({
    name:
      `[${c.kind}] a runner printing a flood is bounded: lines over the rate are dropped and counted`,
    ignore: c.ignore,
    fn: async () => {
      const { backend, cleanup } = await c.make();
      const name = `flood-${c.kind}-${crypto.randomUUID().slice(0, 8)}`;
      const r = recorder();
      const total = 20_000;
      try {
        const pool = new Pool({ backend, name, max: 1, logger: r.logger, onEvent: r.onEvent });
        try {
          const started = Date.now();
          await pool.call(async (n: number) => {
            for (let i = 0; i < n; i++) console.log(`flood line ${i}`);
            // Past the report interval, the next line passes, after the count of those dropped.
            await new Promise((r) => setTimeout(r, 1500));
            console.log("flood over");
          }, [total]);
          // The pool keeps serving while the flood drains.
          assert.equal(await pool.call(() => "still here"), "still here");
          const over = () => r.output().some((e) => e.attributes["flame.line"] === "flood over");
          assert.ok(await waitFor(over, 10_000), "the line after the flood never came");
          const elapsed = Date.now() - started;
          const lines = r.output().filter((e) => e.attributes["flame.dropped"] === undefined);
          const reports = r.output().filter((e) => e.attributes["flame.dropped"] !== undefined);
          const dropped = reports.reduce((n, e) => n + Number(e.attributes["flame.dropped"]), 0);
          const flood = lines.filter((e) =>
            String(e.attributes["flame.line"]).startsWith("flood line")
          );
          // A burst of 200, then 100 lines/s.
          assert.ok(
            flood.length <= 200 + Math.ceil(elapsed / 10) + 1,
            `${flood.length} lines in ${elapsed} ms`,
          );
          assert.ok(reports.length >= 1, "no report of dropped lines");
          assert.equal(
            flood.length + dropped,
            total,
            `${flood.length} forwarded, ${dropped} dropped`,
          );
          assert.match(
            String(reports.at(-1)!.attributes["flame.line"]),
            /^… \d+ line\(s\) dropped \(over 100 lines\/s\)$/,
          );
          assert.ok(r.logs.warn.some((l) => / line\(s\) dropped /.test(l)), "the drop is logged");
        } finally {
          await pool.close();
        }
      } finally {
        if (c.kind === "docker") {
          const left = await containersOfPool(name).catch(() => []);
          if (left.length > 0) await docker("rm", "-f", ...left).catch(() => {});
        }
        await cleanup();
      }
    },
  });
}
