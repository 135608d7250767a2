/**
 * The test runner image is tagged by the id of the sources it holds, so two
 * checkouts sharing an engine never replace each other's image mid-run, and
 * `build_test_image.sh --ensure` removes only this checkout's own stale ones:
 * never another checkout's, never one a test ensured within the hour.
 */

import assert from "node:assert/strict";
import { docker, ensureTestImage, ignoreWithoutDocker, TEST_IMAGE } from "../_helpers/docker.ts";

const root = new URL("../../", import.meta.url).pathname;

const label = (image: string, name: string) =>
  docker("image", "inspect", "--format", `{{index .Config.Labels "${name}"}}`, image);

/** A metadata-only image on top of the test image, labelled as a test image of `checkout`. */
async function fakeTestImage(checkout: string, sourceId: string): Promise<string> {
  const tag = `flame-docker-runner:src-${sourceId.slice(0, 16)}`;
  const dir = await Deno.makeTempDir({ prefix: "flame-image-" });
  try {
    await Deno.writeTextFile(`${dir}/Dockerfile`, `FROM ${TEST_IMAGE}\n`);
    await docker(
      "build",
      "-q",
      "--network",
      "none",
      "--label",
      `dev.flame-docker.checkout=${checkout}`,
      "--label",
      `dev.flame-docker.source-id=${sourceId}`,
      "-t",
      tag,
      dir,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return tag;
}

const exists = (image: string) => docker("image", "inspect", image).then(() => true, () => false);

Deno.test({
  name: "build_test_image.sh --ensure removes only this checkout's own stale test images",
  ignore: ignoreWithoutDocker || Deno.env.get("FLAME_TEST_IMAGE") !== undefined,
  fn: async () => {
    await ensureTestImage();
    assert.match(TEST_IMAGE, /^flame-docker-runner:src-[0-9a-f]{16}$/);
    const sourceId = await label(TEST_IMAGE, "dev.flame-docker.source-id");
    assert.ok(TEST_IMAGE.endsWith(sourceId.slice(0, 16)));
    const mine = await label(TEST_IMAGE, "dev.flame-docker.checkout");
    const random = () => crypto.randomUUID().replaceAll("-", "") + "0".repeat(32);
    const stale = await fakeTestImage(mine, random());
    const otherCheckout = await fakeTestImage("0123456789abcdef", random());
    const recentId = random();
    const recent = await fakeTestImage(mine, recentId);
    const marker = `${root}.build/test-images/${recentId}`;
    try {
      await Deno.writeTextFile(marker, ""); // a run of this checkout ensured it just now
      const out = await new Deno.Command("bash", {
        args: [`${root}docker/build_test_image.sh`, "--ensure"],
        env: { DENO_BIN: Deno.env.get("DENO_BIN") ?? Deno.execPath() },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(300_000),
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      assert.equal(await exists(stale), false, "this checkout's stale image was kept");
      assert.equal(await exists(otherCheckout), true, "another checkout's image was removed");
      assert.equal(await exists(recent), true, "an image ensured within the hour was removed");
      assert.equal(await exists(TEST_IMAGE), true);
    } finally {
      for (const tag of [stale, otherCheckout, recent]) await docker("rmi", tag).catch(() => {});
      await Deno.remove(marker).catch(() => {});
    }
  },
});
