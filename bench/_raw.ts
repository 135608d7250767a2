/**
 * Raw-socket baselines: a Deno echo peer (run as `deno eval`, in a subprocess
 * or a container, exactly where a runner would run) that dials the bench, as
 * a runner dials its parent, and echoes every byte; and the bench's side of
 * the measurements over that connection.
 *
 * @module
 */

import { percentile } from "./_stats.ts";

/**
 * The echo peer: connects to `BENCH_HOST:BENCH_PORT`, Nagle off, and writes
 * back whatever it reads through a buffer the size of the runner's. With
 * `BENCH_BLOCK=<n>` it is store-and-forward instead, as a call is: it reads
 * a whole block of `n` bytes, then writes it back.
 */
export const ECHO_PEER_SOURCE = `
const c = await Deno.connect({ hostname: Deno.env.get("BENCH_HOST"), port: Number(Deno.env.get("BENCH_PORT")) });
c.setNoDelay(true);
const block = Number(Deno.env.get("BENCH_BLOCK") ?? 0);
if (block > 0) {
  for (;;) {
    const b = new Uint8Array(block);
    let got = 0;
    while (got < block) {
      const n = await c.read(b.subarray(got));
      if (n === null) Deno.exit(0);
      got += n;
    }
    let w = 0;
    while (w < block) w += await c.write(b.subarray(w));
  }
}
const buf = new Uint8Array(256 * 1024);
for (;;) {
  const n = await c.read(buf);
  if (n === null) break;
  let w = 0;
  while (w < n) w += await c.write(buf.subarray(w, n));
}
c.close();
`;

/** The cold-start baseline: open one TCP connection to `BENCH_HOST:BENCH_PORT`, then exit. */
export const CONNECT_ONCE_SOURCE = `
const c = await Deno.connect({ hostname: Deno.env.get("BENCH_HOST"), port: Number(Deno.env.get("BENCH_PORT")) });
c.close();
`;

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let w = 0;
  while (w < bytes.length) w += await conn.write(bytes.subarray(w));
}

/**
 * Ping-pong round trips of `size` bytes.
 *
 * @returns Round-trip times in microseconds.
 */
export async function echoLatency(conn: Deno.Conn, size: number, count: number): Promise<number[]> {
  const msg = new Uint8Array(size).fill(7);
  const buf = new Uint8Array(256 * 1024);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await writeAll(conn, msg);
    let got = 0;
    while (got < size) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("Echo peer closed the connection");
      got += n;
    }
    samples.push((performance.now() - t0) * 1000);
  }
  return samples;
}

/**
 * Messages of `size` bytes with `inFlight` outstanding. With `batched`
 * false (the baseline the targets use), each message is its own `write()`,
 * as a message protocol without coalescing sends them; with `batched` true,
 * each read's worth of echoed messages is replaced in one write (a floor no
 * per-message protocol reaches, shown for contrast).
 *
 * @returns Messages per second.
 */
export async function echoPipelined(
  conn: Deno.Conn,
  size: number,
  inFlight: number,
  total: number,
  batched = false,
): Promise<number> {
  const window = new Uint8Array(size * inFlight).fill(7);
  const msg = window.subarray(0, size);
  const buf = new Uint8Array(256 * 1024);
  let sent = 0;
  let done = 0;
  let wake: (() => void) | undefined;
  const t0 = performance.now();
  const reading = (async () => {
    let receivedBytes = 0;
    while (done < total) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("Echo peer closed the connection");
      receivedBytes += n;
      done = Math.floor(receivedBytes / size);
      const w = wake;
      wake = undefined;
      w?.();
    }
  })();
  while (sent < total) {
    while (sent - done >= inFlight) await new Promise<void>((r) => wake = r);
    const room = Math.min(inFlight - (sent - done), total - sent);
    if (batched) {
      await writeAll(conn, window.subarray(0, room * size));
      sent += room;
    } else {
      await writeAll(conn, msg);
      sent++;
    }
  }
  await reading;
  return total / ((performance.now() - t0) / 1000);
}

/**
 * Sends `bytes` and reads them back, concurrently.
 *
 * @returns Milliseconds for the round trip.
 */
export async function echoCopy(conn: Deno.Conn, bytes: Uint8Array): Promise<number> {
  const buf = new Uint8Array(256 * 1024);
  const t0 = performance.now();
  const reading = (async () => {
    let got = 0;
    while (got < bytes.length) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("Echo peer closed the connection");
      got += n;
    }
  })();
  await writeAll(conn, bytes);
  await reading;
  return performance.now() - t0;
}

/** p50 and p99 of samples. */
export function p50p99(samples: readonly number[]): { p50: number; p99: number } {
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}
