/**
 * GGUF metadata value types, shared by the reader and the writer.
 *
 * How the reader represents values (`GGUFValue`): scalars as `number` (64-bit integers as `number` when they are safe
 * integers, else `bigint`), `boolean`, `string`; arrays of strings as `string[]`, of bools as `boolean[]`; numeric
 * arrays as typed arrays (u8 → Uint8Array, i8 → Int8Array, u16 → Uint16Array, i16 → Int16Array, u32 → Uint32Array,
 * i32 → Int32Array, f32 → Float32Array, f64 → Float64Array); 64-bit integer arrays as `number[]` when every element is
 * safe, else BigUint64Array / BigInt64Array; arrays of arrays as `GGUFValue[]`.
 */
export type GGUFValue =
  | number
  | bigint
  | boolean
  | string
  | string[]
  | boolean[]
  | number[]
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array
  | GGUFValue[];

/** Scalar value types, by GGUF's type id order. */
export type GGUFScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'str' | 'u64' | 'i64' | 'f64';

/** The full type of a metadata value: a scalar, an array of scalars, or an array of arrays (each with its own type). */
export type GGUFType = GGUFScalarType | { array: GGUFScalarType } | { array: 'array'; items: GGUFType[] };

/** GGUF value type ids (gguf_type). 9 is ARRAY. */
export const GGUF_TYPE_IDS: Record<GGUFScalarType | 'array', number> = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  str: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
};

export const GGUF_TYPE_BY_ID: (GGUFScalarType | 'array')[] = [
  'u8',
  'i8',
  'u16',
  'i16',
  'u32',
  'i32',
  'f32',
  'bool',
  'str',
  'array',
  'u64',
  'i64',
  'f64',
];

/** Bytes of one scalar in the file (strings: the minimum, their 8-byte length). */
export const GGUF_SCALAR_BYTES: Record<GGUFScalarType, number> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  str: 8,
  u64: 8,
  i64: 8,
  f64: 8,
};

/** A metadata value with its explicit GGUF type (what the writer takes). */
export interface GGUFTypedValue {
  type: GGUFType;
  value: GGUFValue;
}
