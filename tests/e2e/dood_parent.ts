/**
 * The parent of the Docker-out-of-Docker test. It runs inside a container
 * (the test image) with the Docker socket mounted, named and attached to a
 * user-defined network; `image` and `network` are NOT given: the backend
 * infers both from the container it runs in. Prints one JSON line of results.
 */

import { type CallContext, DockerBackend, Pool } from "../../mod.ts";
import type * as Jobs from "../fixtures/jobs.ts";

const backend = new DockerBackend();
await using pool = new Pool({ backend, name: "dood", max: 2, maxConcurrency: 1 });
const hostnames = await Promise.all(
  [1, 2, 3, 4].map(() =>
    pool.call(async function (this: CallContext) {
      await new Promise((r) => setTimeout(r, 200));
      return Deno.hostname();
    })
  ),
);
const jobs = pool.module<typeof Jobs>(import.meta.resolve("../fixtures/jobs.ts"));
const sum = await jobs.add(40, 2);
const streamed: number[] = [];
for await (const n of jobs.count(5)) streamed.push(n);
const stats = pool.stats();
await pool.close();
console.log(JSON.stringify({ parent: Deno.hostname(), hostnames, sum, streamed, stats }));
