/**
 * Contrast figure: warm no-op latency in a process that does nothing but
 * ping-pong calls. Run as its own process (`deno run bench/steady_bench.ts`)
 * so that nothing else has grown V8's young generation: the pool's p99 then
 * includes the scavenges a lightly loaded parent sees, which the main warm
 * figure (throughput rounds between latency rounds, as under load) mostly
 * does not. Prints one JSON line: `{ rawP50, rawP99, poolP50, poolP99 }` (µs).
 *
 * @module
 */

import { ProcessBackend } from "../src/backends/process.ts";
import { Pool } from "../src/parent/pool.ts";
import { spawnDenoPeer } from "./_process_peer.ts";
import { ECHO_PEER_SOURCE } from "./_raw.ts";
import { percentile, within } from "./_stats.ts";
import { alternatingLatency, noop, noopCallSize } from "./warm_bench.ts";

/** What one steady run measured, in microseconds. */
export interface SteadyResult {
  rawP50: number;
  rawP99: number;
  poolP50: number;
  poolP99: number;
}

/**
 * Measures alternating blocks of raw echo and pool round trips, nothing else.
 *
 * @param total Round trips per side.
 * @returns The percentiles.
 */
export async function runSteady(total: number): Promise<SteadyResult> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pool = new Pool({
    backend: new ProcessBackend(),
    max: 1,
    min: 1,
    idleShutdownAfter: Infinity,
    bootTimeout: 60_000,
  });
  const stop = spawnDenoPeer(ECHO_PEER_SOURCE, "127.0.0.1", listener.addr.port);
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await within(listener.accept(), 60_000, "echo peer connect");
    conn.setNoDelay(true);
    await within(pool.call(noop), 60_000, "first call");
    const size = noopCallSize();
    await alternatingLatency(conn, size, pool, 2000);
    const { raw, pool: calls } = await alternatingLatency(conn, size, pool, total);
    return {
      rawP50: percentile(raw, 50),
      rawP99: percentile(raw, 99),
      poolP50: percentile(calls, 50),
      poolP99: percentile(calls, 99),
    };
  } finally {
    conn?.close();
    listener.close();
    await pool.close();
    await stop();
  }
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  console.log(JSON.stringify(await runSteady(quick ? 1000 : 14_000)));
}
