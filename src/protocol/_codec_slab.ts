/**
 * Small buffers carved from shared slabs: encoded values and small incoming frame payloads.
 *
 * Allocating a fresh `Uint8Array` costs about half a microsecond in Deno
 * (each one gets its own off-heap backing store), more than encoding a small
 * value. Views into a 64 KiB slab cost a tenth of that. Every view owns its
 * region (regions are never handed out twice), so callers may keep them; a
 * slab is freed once all its views are.
 *
 * @module
 */

const SLAB_SIZE = 64 * 1024;
/** Larger requests get a buffer of their own. */
const MAX_SLAB_REQUEST = 8 * 1024;

let slab = new Uint8Array(SLAB_SIZE);
let slabOffset = 0;

/** Where to write: a buffer and the offset to start at. */
export interface Reservation {
  /** The buffer to write into. */
  buf: Uint8Array;
  /** The first byte of the reserved region. */
  offset: number;
}

const reservation: Reservation = { buf: slab, offset: 0 };

/**
 * Reserves up to `maxLength` bytes. The caller writes at `buf[offset…]` and
 * must call {@linkcode commit} before the next `reserve`.
 *
 * The returned object is reused by the next call.
 *
 * @param maxLength The most bytes the caller will write.
 * @returns Where to write.
 */
export function reserve(maxLength: number): Reservation {
  if (maxLength > MAX_SLAB_REQUEST) {
    reservation.buf = new Uint8Array(maxLength);
    reservation.offset = 0;
    return reservation;
  }
  if (SLAB_SIZE - slabOffset < maxLength) {
    slab = new Uint8Array(SLAB_SIZE);
    slabOffset = 0;
  }
  reservation.buf = slab;
  reservation.offset = slabOffset;
  return reservation;
}

/**
 * Ends a reservation: the first `length` bytes written become the result.
 *
 * @param length How many bytes were written.
 * @returns A view of exactly those bytes, owned by the caller.
 */
export function commit(length: number): Uint8Array {
  const { buf, offset } = reservation;
  if (buf !== slab) return length === buf.length ? buf : buf.subarray(0, length);
  slabOffset = offset + length;
  return buf.subarray(offset, offset + length);
}
