/**
 * A real job for a runner: make a PNG thumbnail of an RGBA image.
 *
 * Pure TypeScript with Web APIs only: a box-filter downscale, then PNG
 * encoding (zlib through `CompressionStream("deflate")`, CRC-32 by hand).
 * The parent calls it through `pool.module<typeof import("./jobs.ts")>(…)`;
 * the runner imports this same file.
 *
 * @module
 */

import type { CallContext } from "../../mod.ts";

/** An image as raw RGBA bytes. */
export interface RgbaImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width * height * 4` bytes, row by row. */
  data: Uint8Array;
}

/**
 * Makes a test image: a colour gradient with a diagonal band.
 *
 * @param width Width in pixels.
 * @param height Height in pixels.
 * @returns The image.
 */
export function gradient(width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const band = Math.abs(x - y) < width / 20;
      data[i] = band ? 255 : Math.round((x / width) * 255);
      data[i + 1] = band ? 255 : Math.round((y / height) * 255);
      data[i + 2] = 128;
      data[i + 3] = 255;
    }
  }
  return { width, height, data };
}

/**
 * Downscales with a box filter so the result is at most `maxWidth` wide, keeping the aspect ratio.
 *
 * @param image The source image.
 * @param maxWidth The largest width of the result.
 * @returns The smaller image (or a copy when it is already small enough).
 */
export function downscale(image: RgbaImage, maxWidth: number): RgbaImage {
  const scale = Math.max(1, image.width / maxWidth);
  const width = Math.max(1, Math.round(image.width / scale));
  const height = Math.max(1, Math.round(image.height / scale));
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor(y * scale);
    const y1 = Math.min(image.height, Math.max(y0 + 1, Math.floor((y + 1) * scale)));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor(x * scale);
      const x1 = Math.min(image.width, Math.max(x0 + 1, Math.floor((x + 1) * scale)));
      const sum = [0, 0, 0, 0];
      for (let sy = y0; sy < y1; sy++) {
        for (let sx = x0; sx < x1; sx++) {
          const i = (sy * image.width + sx) * 4;
          for (let c = 0; c < 4; c++) sum[c]! += image.data[i + c]!;
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (y * width + x) * 4;
      for (let c = 0; c < 4; c++) out[o + c] = Math.round(sum[c]! / n);
    }
  }
  return { width, height, data: out };
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) for (const b of p) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  const typeBytes = new TextEncoder().encode(type);
  view.setUint32(0, data.length);
  out.set(typeBytes, 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32([typeBytes, data]));
  return out;
}

/**
 * Encodes an RGBA image as PNG (8-bit RGBA, no filtering, zlib-compressed).
 *
 * @param image The image.
 * @returns The PNG file bytes.
 */
export async function encodePng(image: RgbaImage): Promise<Uint8Array> {
  const { width, height, data } = image;
  const raw = new Uint8Array(height * (width * 4 + 1));
  for (let y = 0; y < height; y++) {
    raw.set(data.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  }
  const zlib = new Uint8Array(
    await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate")))
      .arrayBuffer(),
  );
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib),
    chunk("IEND", new Uint8Array(0)),
  ];
  const png = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    png.set(p, at);
    at += p.length;
  }
  return png;
}

/**
 * The job: a PNG thumbnail at most `width` pixels wide.
 *
 * @param image The source image.
 * @param options `width`: the thumbnail's largest width.
 * @returns The PNG bytes and where it was made.
 */
export async function thumbnail(
  this: CallContext | undefined,
  image: RgbaImage,
  options: { width: number },
): Promise<{ png: Uint8Array; width: number; height: number; runner: string }> {
  const small = downscale(image, options.width);
  this?.signal.throwIfAborted();
  return {
    png: await encodePng(small),
    width: small.width,
    height: small.height,
    runner: this?.runnerId ?? "local",
  };
}

/**
 * Streams thumbnails of several sizes, one at a time, as they are made.
 *
 * @param image The source image.
 * @param widths The sizes.
 * @returns The thumbnails, in order.
 */
export async function* thumbnails(
  this: CallContext,
  image: RgbaImage,
  widths: number[],
): AsyncGenerator<{ width: number; height: number; bytes: number }> {
  for (const width of widths) {
    if (this.signal.aborted) return;
    const small = downscale(image, width);
    const png = await encodePng(small);
    yield { width: small.width, height: small.height, bytes: png.length };
  }
}
