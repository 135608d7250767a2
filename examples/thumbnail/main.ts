/**
 * Typed module calls and streaming, doing real work: thumbnails of a
 * generated 1024×768 image, made on runners.
 *
 * ```sh
 * deno run -A examples/thumbnail/main.ts            # runner subprocesses
 * ```
 *
 * @module
 */

import { Pool, ProcessBackend } from "../../mod.ts";
import { gradient } from "./jobs.ts";

await using pool = new Pool({ name: "thumbs", backend: new ProcessBackend(), max: 2 });
const jobs = pool.module<typeof import("./jobs.ts")>(import.meta.resolve("./jobs.ts"));

const image = gradient(1024, 768);
const { png, width, height, runner } = await jobs.thumbnail(image, { width: 128 });
console.log(`thumbnail ${width}×${height}: ${png.length} bytes of PNG, made on ${runner}`);
const signature = [...png.subarray(1, 4)].map((b) => String.fromCharCode(b)).join("");
if (signature !== "PNG") throw new Error("not a PNG");

for await (const t of jobs.thumbnails(image, [256, 128, 64, 32])) {
  console.log(`  streamed: ${t.width}×${t.height}, ${t.bytes} bytes`);
}
