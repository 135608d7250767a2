/**
 * The app of the compose example: a parent running in a container. It makes
 * thumbnails on runner containers booted from its own image on its own
 * network, prints a JSON summary, and exits (closing the pool removes every
 * runner container).
 *
 * @module
 */

import { DockerBackend, Pool } from "../../mod.ts";
import { gradient } from "../thumbnail/jobs.ts";

const backend = new DockerBackend(); // image and network: inferred from this container
await using pool = new Pool({
  name: "thumbs",
  backend,
  max: 2,
  maxConcurrency: 2,
  onGrowEnd: (e) =>
    console.error(`runner ${e.runnerId} ${e.ok ? "up" : "failed"} in ${e.durationMs} ms`),
});
const jobs = pool.module<typeof import("../thumbnail/jobs.ts")>(
  import.meta.resolve("../thumbnail/jobs.ts"),
);
const results = await Promise.all(
  [640, 800, 1024, 1280].map(async (w) => {
    const { png, width, height, runner } = await jobs.thumbnail(gradient(w, (w * 3) / 4), {
      width: 96,
    });
    return { source: w, width, height, bytes: png.length, runner };
  }),
);
await pool.close();
console.log(JSON.stringify({ parent: Deno.hostname(), results, stats: pool.stats() }));
