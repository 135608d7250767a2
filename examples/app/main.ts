/**
 * An app that is its own runner image. `deno task app-image` builds one image
 * holding this app, the Deno binary and a pre-filled module cache, whose CMD
 * is the runner; the app runs in a container of that image with the Docker
 * socket mounted, on a user-defined network, and boots its runners from the
 * same image on the same network (DockerBackend infers both):
 *
 * ```sh
 * deno task app-image --dir . --entry examples/app/main.ts --tag flame-example-app \
 *   --cache examples/app/jobs.ts --exclude ./.build --exclude ./node_modules
 * docker network create --internal flame_app_net
 * docker run --rm --name flame-app --network flame_app_net \
 *   -v /var/run/docker.sock:/var/run/docker.sock \
 *   flame-example-app deno run --allow-all --cached-only examples/app/main.ts
 * ```
 *
 * In this repository `@flame/docker` resolves to the sources by the package's
 * own name; in your app, map it in your deno.json `imports`
 * (`"@flame/docker": "jsr:@flame/docker@^0.1.0"`), and the image's runner
 * (`@flame/docker/runner`) resolves through that same entry.
 *
 * @module
 */

import { DockerBackend, Pool } from "@flame/docker";
import type * as Jobs from "./jobs.ts";

await using pool = new Pool({ name: "app", backend: new DockerBackend(), max: 2 });
const jobs = pool.module<typeof Jobs>(import.meta.resolve("./jobs.ts"));
const found = await Promise.all([20_000, 40_000, 60_000, 80_000].map((n) => jobs.primes(n)));
const countdown: number[] = [];
for await (const n of jobs.countdown(3)) countdown.push(n);
const hostname = await pool.call(() => Deno.hostname());
const stats = pool.stats();
await pool.close();
console.log(JSON.stringify({ parent: Deno.hostname(), found, countdown, hostname, stats }));
