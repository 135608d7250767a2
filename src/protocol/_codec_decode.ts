/**
 * The tagged binary decoder (see the format description at the top of
 * `codec.ts`). Every read is bounds-checked and every count is checked
 * against the bytes left, so malformed input fails fast with a
 * `ProtocolError` instead of allocating or looping.
 *
 * One file because it is one class with one case per tag, the mirror of
 * `_codec_encode.ts`.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import {
  ERR_CAUSE,
  ERR_STACK,
  ERROR_CONSTRUCTORS,
  MAX_DEPTH,
  S_INLINE,
  S_SIDECAR,
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
  VIEW_KINDS,
  VIEW_UINT8,
} from "./_codec_format.ts";

// Not fatal: a fatal TextDecoder is several times slower, and the encoder
// never writes invalid UTF-8 (corrupt bytes decode to U+FFFD).
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

// Scratch for reading float64 and small bigints (little-endian platforms,
// like every platform Deno supports).
const scratchFloat = new Float64Array(1);
const scratchBigUint = new BigUint64Array(scratchFloat.buffer);
const scratchBytes = new Uint8Array(scratchFloat.buffer);

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));

function malformed(what: string): never {
  throw new ProtocolError(`Cannot decode value: ${what}`);
}

/** Decodes one tagged encoding; the caller converts unexpected exceptions. */
export class TaggedDecoder {
  #bytes: Uint8Array;
  #dataView: DataView | undefined;
  #pos: number;
  #end: number;
  #sidecar: number;
  #refs: unknown[] = [];
  #copyBytes: boolean;

  /**
   * @param bytes The whole encoding, format byte included.
   * @param copyBytes Copy byte arrays out rather than return views of `bytes`
   * (for input that lives in a buffer shared with other data).
   */
  constructor(bytes: Uint8Array, copyBytes = false) {
    if (bytes.length < TAGGED_HEADER_SIZE) malformed("truncated header");
    this.#bytes = bytes;
    this.#copyBytes = copyBytes;
    const bodyLength = (bytes[1]! | (bytes[2]! << 8) | (bytes[3]! << 16)) + bytes[4]! * 0x1000000;
    this.#pos = TAGGED_HEADER_SIZE;
    this.#end = TAGGED_HEADER_SIZE + bodyLength;
    if (this.#end > bytes.length) malformed("body length exceeds the input");
    this.#sidecar = this.#end;
  }

  /**
   * Decodes the value and checks that every byte was used.
   *
   * @returns The value.
   */
  decode(): unknown {
    const value = this.#value(0);
    if (this.#pos !== this.#end) malformed("trailing bytes after the value");
    if (this.#sidecar !== this.#bytes.length) {
      malformed("trailing bytes after the byte arrays");
    }
    return value;
  }

  #byte(): number {
    if (this.#pos >= this.#end) malformed("truncated input");
    return this.#bytes[this.#pos++]!;
  }

  #varint(): number {
    const bytes = this.#bytes;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      if (this.#pos >= this.#end) malformed("truncated varint");
      const b = bytes[this.#pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    malformed("varint longer than 5 bytes");
  }

  /** A count of items that each take at least `min` bytes of what is left. */
  #count(min: number): number {
    const n = this.#varint();
    if (n * min > this.#end - this.#pos) {
      malformed(`count ${n} exceeds the bytes left`);
    }
    return n;
  }

  /** A DataView of the input, made on first use (most values need none). */
  #view(): DataView {
    const b = this.#bytes;
    return this.#dataView ??= new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  #float(): number {
    const p = this.#pos;
    if (p + 8 > this.#end) malformed("truncated float");
    const b = this.#bytes;
    for (let i = 0; i < 8; i++) scratchBytes[i] = b[p + i]!;
    this.#pos = p + 8;
    return scratchFloat[0]!;
  }

  #value(depth: number): unknown {
    const tag = this.#byte();
    switch (tag) {
      case T_UNDEFINED:
        return undefined;
      case T_NULL:
        return null;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_INT: {
        const z = this.#varint();
        if (z > 0xffffffff) malformed("integer out of range");
        return (z >>> 1) ^ -(z & 1);
      }
      case T_FLOAT:
        return this.#float();
      case T_STRING:
        return this.#utf8();
      case T_STRING16:
        return this.#utf16();
      case T_BIGINT:
        return this.#bigint();
      case T_REF: {
        const i = this.#varint();
        if (i >= this.#refs.length) {
          malformed(`reference #${i} to an unknown object`);
        }
        return this.#refs[i];
      }
    }
    if (depth >= MAX_DEPTH) {
      malformed(`nesting deeper than ${MAX_DEPTH} levels`);
    }
    switch (tag) {
      case T_ARRAY:
        return this.#array(depth + 1);
      case T_OBJECT:
        return this.#object(depth + 1);
      case T_MAP:
        return this.#map(depth + 1);
      case T_SET:
        return this.#set(depth + 1);
      case T_DATE: {
        const d = new Date(this.#float());
        this.#refs.push(d);
        return d;
      }
      case T_REGEXP: {
        const source = this.#string();
        const flags = this.#string();
        let re: RegExp;
        try {
          re = new RegExp(source, flags);
        } catch (err) {
          throw new ProtocolError("Cannot decode value: invalid RegExp", {
            cause: err,
          });
        }
        this.#refs.push(re);
        return re;
      }
      case T_ARRAY_BUFFER: {
        const ab = this.#storage(1, true).buffer;
        this.#refs.push(ab);
        return ab;
      }
      case T_VIEW:
        return this.#arrayBufferView();
      case T_ERROR:
        return this.#error(depth + 1);
      case T_BOXED: {
        const index = this.#refs.push(undefined) - 1;
        const inner = this.#value(depth);
        if (
          inner === null || inner === undefined || typeof inner === "object"
        ) {
          malformed("boxed value is not a number, string, boolean or bigint");
        }
        const boxed = Object(inner);
        this.#refs[index] = boxed;
        return boxed;
      }
    }
    malformed(`unknown tag 0x${tag.toString(16).padStart(2, "0")}`);
  }

  #string(): string {
    const tag = this.#byte();
    if (tag === T_STRING) return this.#utf8();
    if (tag === T_STRING16) return this.#utf16();
    malformed("expected a string");
  }

  #utf8(): string {
    const n = this.#varint();
    const start = this.#pos;
    const end = start + n;
    if (end > this.#end) malformed("truncated string");
    this.#pos = end;
    const bytes = this.#bytes;
    if (n <= 16) {
      // Short ASCII strings (most keys) are cheaper to build here than to
      // hand to TextDecoder.
      let s = "";
      let i = start;
      for (; i < end; i++) {
        const b = bytes[i]!;
        if (b >= 0x80) break;
        s += String.fromCharCode(b);
      }
      if (i === end) return s;
    }
    return utf8.decode(bytes.subarray(start, end));
  }

  #utf16(): string {
    const n = this.#count(2);
    const view = this.#view();
    let s = "";
    for (let i = 0, p = this.#pos; i < n; i++, p += 2) {
      s += String.fromCharCode(view.getUint16(p, true));
    }
    this.#pos += n * 2;
    return s;
  }

  #bigint(): bigint {
    const sign = this.#byte();
    if (sign > 1) malformed("invalid bigint sign");
    const n = this.#count(1);
    const bytes = this.#bytes;
    const start = this.#pos;
    this.#pos += n;
    let magnitude: bigint;
    if (n <= 8) {
      for (let i = 0; i < 8; i++) scratchBytes[i] = i < n ? bytes[start + i]! : 0;
      magnitude = scratchBigUint[0]!;
    } else {
      const digits: string[] = [];
      for (let i = start + n - 1; i >= start; i--) digits.push(HEX[bytes[i]!]!);
      magnitude = BigInt("0x" + digits.join(""));
    }
    return sign ? -magnitude : magnitude;
  }

  #array(depth: number): unknown[] {
    const n = this.#count(1);
    const a: unknown[] = [];
    this.#refs.push(a);
    const bytes = this.#bytes;
    for (let i = 0; i < n; i++) {
      if (this.#pos < this.#end && bytes[this.#pos] === T_HOLE) this.#pos++;
      else a[i] = this.#value(depth);
    }
    a.length = n;
    return a;
  }

  #object(depth: number): Record<string, unknown> {
    const n = this.#count(2);
    const o: Record<string, unknown> = {};
    this.#refs.push(o);
    for (let i = 0; i < n; i++) {
      const key = this.#string();
      const value = this.#value(depth);
      if (key === "__proto__") {
        // Assignment would call the prototype setter; define an own property instead.
        Object.defineProperty(o, key, {
          value,
          writable: true,
          enumerable: true,
          configurable: true,
        });
      } else o[key] = value;
    }
    return o;
  }

  #map(depth: number): Map<unknown, unknown> {
    const n = this.#count(2);
    const m = new Map<unknown, unknown>();
    this.#refs.push(m);
    for (let i = 0; i < n; i++) {
      const key = this.#value(depth);
      m.set(key, this.#value(depth));
    }
    return m;
  }

  #set(depth: number): Set<unknown> {
    const n = this.#count(1);
    const s = new Set<unknown>();
    this.#refs.push(s);
    for (let i = 0; i < n; i++) s.add(this.#value(depth));
    return s;
  }

  /**
   * Reads byte storage. Returns a view of the input when `copy` is false and
   * the bytes are aligned for `align`-byte elements, else a copy.
   */
  #storage(align: number, copy: boolean): Uint8Array {
    const mode = this.#byte();
    const n = this.#varint();
    if (n % align !== 0) {
      malformed(`byte length ${n} is not a multiple of ${align}`);
    }
    const bytes = this.#bytes;
    let start: number;
    if (mode === S_INLINE) {
      start = this.#pos;
      if (start + n > this.#end) malformed("truncated byte array");
      this.#pos += n;
    } else if (mode === S_SIDECAR) {
      start = this.#sidecar + (-this.#sidecar & (align - 1));
      if (start + n > bytes.length) malformed("truncated byte array");
      this.#sidecar = start + n;
    } else malformed("invalid byte storage mode");
    const view = bytes.subarray(start, start + n);
    if (copy || (bytes.byteOffset + start) % align !== 0) return view.slice();
    return view;
  }

  #arrayBufferView(): ArrayBufferView {
    const k = this.#byte();
    const kind = VIEW_KINDS[k];
    if (kind === undefined || kind.ctor === undefined) {
      malformed(`unknown view kind ${k}`);
    }
    const index = this.#refs.push(undefined) - 1;
    const data = this.#storage(kind.size, this.#copyBytes);
    const view = k === VIEW_UINT8 ? data : new kind.ctor(
      data.buffer as ArrayBuffer,
      data.byteOffset,
      k === VIEW_DATA_VIEW ? data.byteLength : data.byteLength / kind.size,
    );
    this.#refs[index] = view;
    return view;
  }

  #error(depth: number): Error {
    const index = this.#refs.push(undefined) - 1;
    const name = this.#string();
    const message = this.#string();
    const flags = this.#byte();
    if (flags > (ERR_STACK | ERR_CAUSE)) malformed("invalid error flags");
    const ctor = ERROR_CONSTRUCTORS.get(name);
    const err = ctor ? new ctor(message) : new Error(message);
    if (!ctor) {
      Object.defineProperty(err, "name", {
        value: name,
        writable: true,
        configurable: true,
      });
    }
    this.#refs[index] = err;
    if (flags & ERR_STACK) {
      Object.defineProperty(err, "stack", {
        value: this.#string(),
        writable: true,
        configurable: true,
      });
    } else delete err.stack;
    if (flags & ERR_CAUSE) {
      Object.defineProperty(err, "cause", {
        value: this.#value(depth),
        writable: true,
        configurable: true,
      });
    }
    return err;
  }
}
