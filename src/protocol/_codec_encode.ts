/**
 * The tagged binary encoder (see the format description at the top of
 * `codec.ts`). Byte arrays of at least `SIDECAR_MIN` bytes are returned as
 * separate parts that view the caller's memory.
 *
 * One file because it is one class with one case per tag: the encoder is the
 * codec's hot path, and its cases share the class's buffer and cursor.
 *
 * @module
 */

import {
  ERR_CAUSE,
  ERR_STACK,
  FORMAT_TAGGED,
  MAX_DEPTH,
  S_INLINE,
  S_SIDECAR,
  SIDECAR_MIN,
  T_ARRAY,
  T_ARRAY_BUFFER,
  T_BIGINT,
  T_BOXED,
  T_DATE,
  T_ERROR,
  T_FALSE,
  T_FLOAT,
  T_HOLE,
  T_INT,
  T_MAP,
  T_NULL,
  T_OBJECT,
  T_REF,
  T_REGEXP,
  T_SET,
  T_STRING,
  T_STRING16,
  T_TRUE,
  T_UNDEFINED,
  T_VIEW,
  TAGGED_HEADER_SIZE,
  VIEW_DATA_VIEW,
  VIEW_KIND_BY_NAME,
  VIEW_KINDS,
} from "./_codec_format.ts";
import { commit, reserve } from "./_codec_slab.ts";

/**
 * Why a value cannot be encoded, and where: path segments are added while the
 * failure unwinds (innermost first), so the happy path pays nothing for them.
 */
export class CloneFailure extends Error {
  /** Path segments, innermost first. */
  segments: string[] = [];
  /** What is wrong with the value at the path. */
  reason: string;
  /**
   * @param reason What is wrong with the value.
   */
  constructor(reason: string) {
    super(reason);
    this.name = "CloneFailure";
    this.reason = reason;
  }
}

function at(err: unknown, segment: string): unknown {
  if (err instanceof CloneFailure) err.segments.push(segment);
  return err;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function mapKeySegment(key: unknown, index: number): string {
  if (typeof key === "string") return `.get(${JSON.stringify(key)})`;
  if (typeof key === "number" || typeof key === "boolean") {
    return `.get(${key})`;
  }
  return `.get(<key #${index}>)`;
}

const utf8 = new TextEncoder();

// Scratch for small bigints (little-endian platforms, like every platform
// Deno supports).
const scratchBigUint = new BigUint64Array(1);
const scratchBytes = new Uint8Array(scratchBigUint.buffer);
const TWO_TO_64 = 1n << 64n;

// The `Symbol.toStringTag` getter of %TypedArray%.prototype: the constructor
// name of any typed array, and `undefined` for anything else, un-spoofable.
const typedArrayName = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  Symbol.toStringTag,
)!.get! as (this: unknown) => string | undefined;

function describeUnclonable(value: object): string {
  const tag = Object.prototype.toString.call(value).slice(8, -1);
  if (tag !== "Object") return `${tag} objects cannot cross the wire`;
  const proto: unknown = Object.getPrototypeOf(value);
  const ctor = typeof proto === "object" && proto !== null
    ? Object.getOwnPropertyDescriptor(proto, "constructor")?.value
    : undefined;
  const name = typeof ctor === "function" && ctor.name ? ctor.name : "(anonymous)";
  return `instances of class "${name}" cannot cross the wire (only plain objects, arrays and built-in value types can)`;
}

/** The primitive inside a boxed Number, String, Boolean or BigInt (by the built-in `valueOf`, which cannot be spoofed). */
function unbox(v: object): number | string | boolean | bigint | undefined {
  if (v instanceof Number) return Number.prototype.valueOf.call(v);
  if (v instanceof String) return String.prototype.valueOf.call(v);
  if (v instanceof Boolean) return Boolean.prototype.valueOf.call(v);
  if (v instanceof BigInt) return BigInt.prototype.valueOf.call(v);
  return undefined;
}

/**
 * Encodes values in the tagged format. One instance is reused across calls
 * (its scratch buffer grows as needed); re-entrant calls get a fresh one.
 */
export class TaggedEncoder {
  #buf = new Uint8Array(4096);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;
  #refs = new Map<object, number>();
  #sidecars: Uint8Array[] = [];
  #sidecarAligns: number[] = [];
  /** Whether an encoding is in progress (re-entrancy guard). */
  busy = false;

  /**
   * Encodes one value.
   *
   * @param value The value.
   * @returns The parts of the encoding.
   * @throws {CloneFailure} When the value cannot cross the wire.
   */
  encode(value: unknown): Uint8Array[] {
    this.busy = true;
    this.#pos = TAGGED_HEADER_SIZE;
    try {
      this.#value(value, 0);
      const bodyLength = this.#pos - TAGGED_HEADER_SIZE;
      const buf = this.#buf;
      buf[0] = FORMAT_TAGGED;
      this.#view.setUint32(1, bodyLength, true);
      const length = this.#pos;
      const out = reserve(length);
      if (length <= 64) {
        // Cheaper than making a subarray for set().
        const target = out.buf;
        for (let i = 0, o = out.offset; i < length; i++) target[o + i] = buf[i]!;
      } else out.buf.set(length === buf.length ? buf : buf.subarray(0, length), out.offset);
      const parts: Uint8Array[] = [commit(length)];
      let offset = this.#pos;
      const sidecars = this.#sidecars;
      for (let i = 0; i < sidecars.length; i++) {
        const pad = -offset & (this.#sidecarAligns[i]! - 1);
        if (pad !== 0) {
          parts.push(new Uint8Array(pad));
          offset += pad;
        }
        parts.push(sidecars[i]!);
        offset += sidecars[i]!.byteLength;
      }
      return parts;
    } finally {
      this.#refs.clear();
      this.#sidecars.length = 0;
      this.#sidecarAligns.length = 0;
      if (this.#buf.length > 1 << 20) {
        this.#buf = new Uint8Array(4096);
        this.#view = new DataView(this.#buf.buffer);
      }
      this.busy = false;
    }
  }

  #ensure(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  #byte(b: number): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = b;
  }

  /** Writes an unsigned varint (up to 2^35 - 1); the caller has ensured 5 bytes. */
  #varintUnchecked(n: number): void {
    const buf = this.#buf;
    let p = this.#pos;
    while (n >= 0x80) {
      buf[p++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    buf[p++] = n;
    this.#pos = p;
  }

  #tagVarint(tag: number, n: number): void {
    this.#ensure(6);
    this.#buf[this.#pos++] = tag;
    this.#varintUnchecked(n);
  }

  #value(v: unknown, depth: number): void {
    switch (typeof v) {
      case "string":
        return this.#string(v);
      case "number":
        return this.#number(v);
      case "boolean":
        return this.#byte(v ? T_TRUE : T_FALSE);
      case "undefined":
        return this.#byte(T_UNDEFINED);
      case "bigint":
        return this.#bigint(v);
      case "object":
        if (v === null) return this.#byte(T_NULL);
        return this.#object(v, depth);
      case "function":
        throw new CloneFailure("functions cannot cross the wire");
      case "symbol":
        throw new CloneFailure("symbols cannot cross the wire");
    }
  }

  #number(v: number): void {
    if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
      this.#tagVarint(T_INT, ((v << 1) ^ (v >> 31)) >>> 0);
    } else {
      this.#ensure(9);
      this.#buf[this.#pos] = T_FLOAT;
      this.#view.setFloat64(this.#pos + 1, v, true);
      this.#pos += 9;
    }
  }

  #string(s: string): void {
    const n = s.length;
    this.#ensure(n * 3 + 6);
    const buf = this.#buf;
    const start = this.#pos;
    if (n <= 42) {
      // At most 126 UTF-8 bytes: the length fits one varint byte.
      let p = start + 2;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i < n) {
        if (!s.isWellFormed()) return this.#string16(s);
        p = start + 2 + utf8.encodeInto(s, buf.subarray(start + 2)).written;
      }
      buf[start] = T_STRING;
      buf[start + 1] = p - start - 2;
      this.#pos = p;
      return;
    }
    if (!s.isWellFormed()) return this.#string16(s);
    // The byte length is known only after encoding: reserve a 5-byte varint
    // (non-minimal forms are valid) and fill it in afterwards.
    const written = utf8.encodeInto(s, buf.subarray(start + 6)).written;
    buf[start] = T_STRING;
    buf[start + 1] = (written & 0x7f) | 0x80;
    buf[start + 2] = ((written >>> 7) & 0x7f) | 0x80;
    buf[start + 3] = ((written >>> 14) & 0x7f) | 0x80;
    buf[start + 4] = ((written >>> 21) & 0x7f) | 0x80;
    buf[start + 5] = (written >>> 28) & 0x7f;
    this.#pos = start + 6 + written;
  }

  /** Strings that are not well-formed UTF-16 (lone surrogates) go as raw code units. */
  #string16(s: string): void {
    const n = s.length;
    this.#tagVarint(T_STRING16, n);
    this.#ensure(n * 2);
    const view = this.#view;
    let p = this.#pos;
    for (let i = 0; i < n; i++, p += 2) {
      view.setUint16(p, s.charCodeAt(i), true);
    }
    this.#pos = p;
  }

  #bigint(v: bigint): void {
    const negative = v < 0n;
    const magnitude = negative ? -v : v;
    if (magnitude < TWO_TO_64) {
      scratchBigUint[0] = magnitude;
      let n = 8;
      while (n > 0 && scratchBytes[n - 1] === 0) n--;
      this.#ensure(3 + n);
      const buf = this.#buf;
      let p = this.#pos;
      buf[p++] = T_BIGINT;
      buf[p++] = negative ? 1 : 0;
      buf[p++] = n;
      for (let i = 0; i < n; i++) buf[p++] = scratchBytes[i]!;
      this.#pos = p;
      return;
    }
    let hex = magnitude.toString(16);
    if (hex.length & 1) hex = "0" + hex;
    const n = hex.length >>> 1;
    this.#ensure(7 + n);
    this.#buf[this.#pos++] = T_BIGINT;
    this.#buf[this.#pos++] = negative ? 1 : 0;
    this.#varintUnchecked(n);
    const buf = this.#buf;
    let p = this.#pos;
    // Little-endian: the last hex pair is the lowest byte.
    for (let i = hex.length - 2; i >= 0; i -= 2) buf[p++] = parseInt(hex.slice(i, i + 2), 16);
    this.#pos = p;
  }

  #object(v: object, depth: number): void {
    const ref = this.#refs.get(v);
    if (ref !== undefined) return this.#tagVarint(T_REF, ref);
    if (depth >= MAX_DEPTH) {
      throw new CloneFailure(
        `nesting deeper than ${MAX_DEPTH} levels cannot cross the wire`,
      );
    }
    this.#refs.set(v, this.#refs.size);
    if (Array.isArray(v)) return this.#array(v, depth + 1);
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      return this.#plain(v as Record<string, unknown>, depth + 1);
    }
    if (ArrayBuffer.isView(v)) return this.#arrayBufferView(v);
    if (v instanceof Map) return this.#map(v, depth + 1);
    if (v instanceof Set) return this.#set(v, depth + 1);
    if (v instanceof Date) {
      this.#ensure(9);
      this.#buf[this.#pos] = T_DATE;
      this.#view.setFloat64(this.#pos + 1, v.getTime(), true);
      this.#pos += 9;
      return;
    }
    if (v instanceof RegExp) {
      this.#byte(T_REGEXP);
      this.#string(v.source);
      this.#string(v.flags);
      return;
    }
    if (v instanceof ArrayBuffer) {
      if (v.detached) throw new CloneFailure("a detached ArrayBuffer cannot cross the wire");
      this.#byte(T_ARRAY_BUFFER);
      return this.#bytes(new Uint8Array(v), 1);
    }
    if (v instanceof Error) return this.#error(v, depth + 1);
    const boxed = unbox(v);
    if (boxed !== undefined) {
      this.#byte(T_BOXED);
      return this.#value(boxed, depth);
    }
    if (
      typeof SharedArrayBuffer === "function" && v instanceof SharedArrayBuffer
    ) {
      throw new CloneFailure(
        "SharedArrayBuffer objects cannot cross the wire (memory cannot be shared between processes)",
      );
    }
    throw new CloneFailure(describeUnclonable(v));
  }

  #array(v: unknown[], depth: number): void {
    const n = v.length;
    this.#tagVarint(T_ARRAY, n);
    let i = 0;
    try {
      for (; i < n; i++) {
        const x = v[i];
        if (x === undefined && !(i in v)) this.#byte(T_HOLE);
        else this.#value(x, depth);
      }
    } catch (err) {
      throw at(err, `[${i}]`);
    }
  }

  #plain(v: Record<string, unknown>, depth: number): void {
    const keys = Object.keys(v);
    const n = keys.length;
    this.#tagVarint(T_OBJECT, n);
    let i = 0;
    try {
      for (; i < n; i++) {
        const key = keys[i]!;
        this.#string(key);
        this.#value(v[key], depth);
      }
    } catch (err) {
      throw at(err, keySegment(keys[i]!));
    }
  }

  #map(v: Map<unknown, unknown>, depth: number): void {
    const size = v.size;
    this.#tagVarint(T_MAP, size);
    let i = 0;
    for (const [key, value] of v) {
      if (i === size) break;
      try {
        this.#value(key, depth);
      } catch (err) {
        throw at(err, `<Map key #${i}>`);
      }
      try {
        this.#value(value, depth);
      } catch (err) {
        throw at(err, mapKeySegment(key, i));
      }
      i++;
    }
    if (i < size) throw new CloneFailure("a Map changed while it was encoded");
  }

  #set(v: Set<unknown>, depth: number): void {
    const size = v.size;
    this.#tagVarint(T_SET, size);
    let i = 0;
    for (const value of v) {
      if (i === size) break;
      try {
        this.#value(value, depth);
      } catch (err) {
        throw at(err, `<Set item #${i}>`);
      }
      i++;
    }
    if (i < size) throw new CloneFailure("a Set changed while it was encoded");
  }

  #arrayBufferView(v: ArrayBufferView): void {
    if ((v.buffer as ArrayBuffer).detached) {
      throw new CloneFailure("a view of a detached ArrayBuffer cannot cross the wire");
    }
    let kind: number;
    if (v instanceof DataView) kind = VIEW_DATA_VIEW;
    else {
      const name = typedArrayName.call(v);
      const k = name === undefined ? undefined : VIEW_KIND_BY_NAME.get(name);
      if (k === undefined) throw new CloneFailure(describeUnclonable(v));
      kind = k;
    }
    this.#ensure(2);
    this.#buf[this.#pos++] = T_VIEW;
    this.#buf[this.#pos++] = kind;
    const bytes = v.constructor === Uint8Array
      ? v as Uint8Array
      : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    this.#bytes(bytes, VIEW_KINDS[kind]!.size);
  }

  #bytes(bytes: Uint8Array, align: number): void {
    const n = bytes.byteLength;
    this.#ensure(6);
    if (n >= SIDECAR_MIN) {
      this.#buf[this.#pos++] = S_SIDECAR;
      this.#varintUnchecked(n);
      this.#sidecars.push(bytes);
      this.#sidecarAligns.push(align);
      return;
    }
    this.#buf[this.#pos++] = S_INLINE;
    this.#varintUnchecked(n);
    this.#ensure(n);
    this.#buf.set(bytes, this.#pos);
    this.#pos += n;
  }

  #error(v: Error, depth: number): void {
    const name = String(v.name);
    const message = String(v.message);
    const stack: unknown = v.stack;
    const hasCause = Object.hasOwn(v, "cause");
    this.#byte(T_ERROR);
    this.#string(name);
    this.#string(message);
    this.#byte(
      (typeof stack === "string" ? ERR_STACK : 0) | (hasCause ? ERR_CAUSE : 0),
    );
    if (typeof stack === "string") this.#string(stack);
    if (hasCause) {
      try {
        this.#value(v.cause, depth);
      } catch (err) {
        throw at(err, ".cause");
      }
    }
  }
}
