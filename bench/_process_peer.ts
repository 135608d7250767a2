/**
 * Runs a Deno snippet as a local subprocess (`deno eval`): the same kind of
 * process as a `ProcessBackend` runner.
 *
 * @module
 */

/**
 * Spawns `deno eval <source>` with `BENCH_HOST`/`BENCH_PORT` set.
 *
 * @returns A function that kills it and waits for its end.
 */
export function spawnDenoPeer(
  source: string,
  host: string,
  port: number,
  env: Record<string, string> = {},
): () => Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", source],
    env: { ...env, BENCH_HOST: host, BENCH_PORT: String(port), NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  return async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
  };
}
