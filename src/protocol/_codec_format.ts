/**
 * Constants shared by the codec's encoder and decoder (see the format
 * description at the top of `codec.ts`).
 *
 * @module
 */

/**
 * First byte of an encoding: the rest is UTF-8 JSON. A space, so that the
 * whole encoding is JSON text and decodes without slicing.
 */
export const FORMAT_JSON = 0x20;
/** First byte of an encoding: the rest is the tagged binary format. */
export const FORMAT_TAGGED = 0x02;
/** Bytes before the tagged body: format byte + u32 LE body length. */
export const TAGGED_HEADER_SIZE = 5;

/**
 * Deepest nesting of containers either side accepts. Bounded so that hostile
 * input cannot exhaust the stack and so that both sides agree on the limit.
 */
export const MAX_DEPTH = 1000;

/** Byte arrays at least this long are sent as separate parts, not copied. */
export const SIDECAR_MIN = 4096;

// Value tags of the tagged body.
export const T_UNDEFINED = 0x00;
export const T_NULL = 0x01;
export const T_FALSE = 0x02;
export const T_TRUE = 0x03;
/** Zigzag varint of an int32. */
export const T_INT = 0x04;
/** IEEE 754 float64, little-endian. */
export const T_FLOAT = 0x05;
/** Varint byte length, UTF-8 bytes. */
export const T_STRING = 0x06;
/** Varint code-unit count, UTF-16LE code units (strings with lone surrogates). */
export const T_STRING16 = 0x07;
/** Sign byte (0/1), varint byte length, little-endian magnitude. */
export const T_BIGINT = 0x08;
/** Varint length, then that many elements (each a value or `T_HOLE`). */
export const T_ARRAY = 0x09;
/** A missing array element. */
export const T_HOLE = 0x0a;
/** Varint count, then count × (string key value, value). */
export const T_OBJECT = 0x0b;
/** Varint count, then count × (key, value). */
export const T_MAP = 0x0c;
/** Varint count, then count × value. */
export const T_SET = 0x0d;
/** Float64 time value. */
export const T_DATE = 0x0e;
/** Source string value, flags string value. */
export const T_REGEXP = 0x0f;
/** Name string, message string, flags byte (`ERR_*`), [stack string], [cause value]. */
export const T_ERROR = 0x10;
/** Byte storage (see `S_*`). */
export const T_ARRAY_BUFFER = 0x11;
/** View kind byte (index into `VIEW_KINDS`), byte storage. */
export const T_VIEW = 0x12;
/** A primitive value: a boxed Number, String, Boolean or BigInt. */
export const T_BOXED = 0x13;
/** Varint index of an object already decoded (shared references, cycles). */
export const T_REF = 0x14;

/** Byte storage: varint length, bytes inline in the body. */
export const S_INLINE = 0;
/** Byte storage: varint length; bytes in the sidecar area (aligned, in order). */
export const S_SIDECAR = 1;

export const ERR_STACK = 1;
export const ERR_CAUSE = 2;

/** An array-buffer view constructor. */
export type ViewConstructor = new (
  buffer: ArrayBuffer,
  byteOffset: number,
  length: number,
) => ArrayBufferView;

/** One kind of array-buffer view: its name and element size. */
export interface ViewKind {
  /** The constructor's name (`Symbol.toStringTag` of its instances). */
  name: string;
  /** Bytes per element (alignment needed for a zero-copy view). */
  size: number;
  /** The constructor, absent if this runtime lacks it. */
  ctor: ViewConstructor | undefined;
}

const G = globalThis as unknown as Record<string, ViewConstructor | undefined>;
function kind(name: string, size: number): ViewKind {
  return { name, size, ctor: G[name] };
}

/** View kinds by wire number; the order is part of the format. */
export const VIEW_KINDS: readonly ViewKind[] = [
  kind("Int8Array", 1),
  kind("Uint8Array", 1),
  kind("Uint8ClampedArray", 1),
  kind("Int16Array", 2),
  kind("Uint16Array", 2),
  kind("Int32Array", 4),
  kind("Uint32Array", 4),
  kind("Float32Array", 4),
  kind("Float64Array", 8),
  kind("BigInt64Array", 8),
  kind("BigUint64Array", 8),
  kind("DataView", 1),
  kind("Float16Array", 2),
];

/** Wire number of the `DataView` kind. */
export const VIEW_DATA_VIEW = 11;
/** Wire number of the `Uint8Array` kind. */
export const VIEW_UINT8 = 1;

/** Wire numbers by typed-array name. */
export const VIEW_KIND_BY_NAME: ReadonlyMap<string, number> = new Map(
  VIEW_KINDS.map((k, i) => [k.name, i]),
);

/** Error constructors that are rebuilt by name; any other name becomes an `Error` with that name. */
export const ERROR_CONSTRUCTORS: ReadonlyMap<string, ErrorConstructor> = new Map<
  string,
  ErrorConstructor
>([
  ["Error", Error],
  ["EvalError", EvalError],
  ["RangeError", RangeError],
  ["ReferenceError", ReferenceError],
  ["SyntaxError", SyntaxError],
  ["TypeError", TypeError],
  ["URIError", URIError],
]);
