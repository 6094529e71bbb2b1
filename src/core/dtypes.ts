/**
 * Element types and their decoding into numbers. Decoding is exact: float16 and bfloat16 become
 * float32 (every value representable), 64-bit integers become float64 (exact below 2^53).
 */

/** Element type of a tensor as stored or as analysed. */
export type DType =
  | 'float16'
  | 'bfloat16'
  | 'float32'
  | 'float64'
  | 'int4'
  | 'uint4'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool'
  | 'complex64'
  | 'complex128'
  | 'float8_e4m3fn'
  | 'float8_e5m2'
  // Microscaling (OCP MX) element and scale types: listed, not decoded.
  | 'float4_e2m1fn'
  | 'float6_e2m3fn'
  | 'float6_e3m2fn'
  | 'float8_e8m0fnu'
  | 'string'
  | 'resource'
  | 'variant';

/** A typed array of decoded values, in row-major order. */
export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** Bytes per element for fixed-size types (0.5 for 4-bit types); undefined for strings etc. */
export function itemSizeBytes(dtype: DType): number | undefined {
  switch (dtype) {
    case 'int4':
    case 'uint4':
      return 0.5;
    case 'int8':
    case 'uint8':
    case 'bool':
    case 'float8_e4m3fn':
    case 'float8_e5m2':
      return 1;
    case 'float16':
    case 'bfloat16':
    case 'int16':
    case 'uint16':
      return 2;
    case 'float32':
    case 'int32':
    case 'uint32':
      return 4;
    case 'float64':
    case 'int64':
    case 'uint64':
    case 'complex64':
      return 8;
    case 'complex128':
      return 16;
    case 'float4_e2m1fn':
    case 'float6_e2m3fn':
    case 'float6_e3m2fn':
    case 'float8_e8m0fnu':
    case 'string':
    case 'resource':
    case 'variant':
      return undefined;
  }
}

/** True for dtypes whose values the statistics engine can analyse. */
export function isNumericDType(dtype: DType): boolean {
  return itemSizeBytes(dtype) !== undefined;
}

/** True for floating-point dtypes (including the 8-bit and 16-bit ones). */
export function isFloatDType(dtype: DType): boolean {
  return (
    dtype === 'float16' ||
    dtype === 'bfloat16' ||
    dtype === 'float32' ||
    dtype === 'float64' ||
    dtype === 'float8_e4m3fn' ||
    dtype === 'float8_e5m2' ||
    dtype === 'complex64' ||
    dtype === 'complex128'
  );
}

/** Number of elements of a shape (1 for a scalar, 0 when a dimension is 0). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
  }
  return n;
}

/** Every float16 bit pattern's value (exact in float32), built on first use. */
let float16Values: Float32Array | undefined;

/** The value of each of the 65536 float16 bit patterns, indexed by the bits. */
export function float16Table(): Float32Array {
  float16Values ??= buildFloat16Table();
  return float16Values;
}

function buildFloat16Table(): Float32Array {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    table[h] = float16BitsToNumber(h);
  }
  return table;
}

/** IEEE 754 binary16 bits to a number (exact, handles subnormals, Inf and NaN). */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) {
    return sign * fraction * 2 ** -24;
  }
  if (exponent === 0x1f) {
    return fraction === 0 ? sign * Infinity : NaN;
  }
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 bits to a number (the upper half of a float32). */
export function bfloat16BitsToNumber(b: number): number {
  scratchU32[0] = (b & 0xffff) << 16;
  return scratchF32[0]!;
}

const scratchBuffer = new ArrayBuffer(8);
const scratchU32 = new Uint32Array(scratchBuffer, 0, 1);
const scratchF32 = new Float32Array(scratchBuffer, 0, 1);

/** float8 E4M3FN bits (no infinities, NaN = S.1111.111) to a number. */
function float8E4M3FnToNumber(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exponent = (b >> 3) & 0xf;
  const mantissa = b & 0x7;
  if (exponent === 0xf && mantissa === 0x7) {
    return NaN;
  }
  if (exponent === 0) {
    return sign * mantissa * 2 ** -9;
  }
  return sign * (1 + mantissa / 8) * 2 ** (exponent - 7);
}

/** float8 E5M2 bits (IEEE-like) to a number. */
function float8E5M2ToNumber(b: number): number {
  return float16BitsToNumber((b & 0xff) << 8);
}

/**
 * Decodes raw little- or big-endian bytes into numbers. Returns a typed array whose values equal
 * the stored values exactly (float16/bfloat16/float8 widen to float32, 64-bit integers to float64,
 * complex types yield their interleaved real and imaginary parts). `bytes.byteLength` must be a
 * whole number of elements. Unsupported dtypes throw a TypeError (callers check isNumericDType).
 */
export function decodeValues(dtype: DType, bytes: Uint8Array, littleEndian = true): NumericArray {
  const size = itemSizeBytes(dtype);
  if (size === undefined) {
    throw new TypeError(`Cannot decode values of dtype '${dtype}'.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const aligned = (align: number): boolean => bytes.byteOffset % align === 0;
  const hostLittle = true;
  switch (dtype) {
    case 'int8':
      return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    case 'uint8':
    case 'bool':
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    case 'int4':
    case 'uint4': {
      // Packed low nibble first (TFLite low_bit_utils, TF DT_INT4).
      const out = dtype === 'int4' ? new Int8Array(bytes.byteLength * 2) : new Uint8Array(bytes.byteLength * 2);
      for (let i = 0; i < bytes.byteLength; i++) {
        const b = bytes[i]!;
        out[2 * i] = dtype === 'int4' ? ((b & 0xf) ^ 8) - 8 : b & 0xf;
        out[2 * i + 1] = dtype === 'int4' ? ((b >> 4) ^ 8) - 8 : b >> 4;
      }
      return out;
    }
    case 'float8_e4m3fn':
    case 'float8_e5m2': {
      const out = new Float32Array(bytes.byteLength);
      const f = dtype === 'float8_e4m3fn' ? float8E4M3FnToNumber : float8E5M2ToNumber;
      for (let i = 0; i < bytes.byteLength; i++) {
        out[i] = f(bytes[i]!);
      }
      return out;
    }
    case 'float16':
    case 'bfloat16': {
      const n = bytes.byteLength >> 1;
      const out = new Float32Array(n);
      if (dtype === 'float16') {
        const table = float16Table();
        for (let i = 0; i < n; i++) {
          out[i] = table[view.getUint16(2 * i, littleEndian)]!;
        }
      } else {
        const u32 = new Uint32Array(out.buffer);
        for (let i = 0; i < n; i++) {
          u32[i] = view.getUint16(2 * i, littleEndian) << 16;
        }
      }
      return out;
    }
    case 'int16':
    case 'uint16': {
      if (littleEndian === hostLittle && aligned(2)) {
        return dtype === 'int16'
          ? new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1)
          : new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
      }
      const n = bytes.byteLength >> 1;
      const out = dtype === 'int16' ? new Int16Array(n) : new Uint16Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = dtype === 'int16' ? view.getInt16(2 * i, littleEndian) : view.getUint16(2 * i, littleEndian);
      }
      return out;
    }
    case 'float32':
    case 'int32':
    case 'uint32':
    case 'complex64': {
      const n = bytes.byteLength >> 2;
      if (littleEndian === hostLittle && aligned(4)) {
        if (dtype === 'int32') {return new Int32Array(bytes.buffer, bytes.byteOffset, n);}
        if (dtype === 'uint32') {return new Uint32Array(bytes.buffer, bytes.byteOffset, n);}
        return new Float32Array(bytes.buffer, bytes.byteOffset, n);
      }
      const out = dtype === 'int32' ? new Int32Array(n) : dtype === 'uint32' ? new Uint32Array(n) : new Float32Array(n);
      for (let i = 0; i < n; i++) {
        out[i] =
          dtype === 'int32'
            ? view.getInt32(4 * i, littleEndian)
            : dtype === 'uint32'
              ? view.getUint32(4 * i, littleEndian)
              : view.getFloat32(4 * i, littleEndian);
      }
      return out;
    }
    case 'float64':
    case 'complex128': {
      const n = bytes.byteLength >> 3;
      if (littleEndian === hostLittle && aligned(8)) {
        return new Float64Array(bytes.buffer, bytes.byteOffset, n);
      }
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = view.getFloat64(8 * i, littleEndian);
      }
      return out;
    }
    case 'int64':
    case 'uint64': {
      const n = bytes.byteLength >> 3;
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = Number(dtype === 'int64' ? view.getBigInt64(8 * i, littleEndian) : view.getBigUint64(8 * i, littleEndian));
      }
      return out;
    }
    case 'float4_e2m1fn':
    case 'float6_e2m3fn':
    case 'float6_e3m2fn':
    case 'float8_e8m0fnu':
    case 'string':
    case 'resource':
    case 'variant':
      throw new TypeError(`Cannot decode values of dtype '${dtype}'.`);
  }
}

/** A number to IEEE binary16 bits, rounding to nearest even (overflow → ±Inf, NaN kept). */
export function numberToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) {
    return sign | 0x7c00 | (mant ? 0x200 : 0);
  }
  // Unbiased exponent, re-biased for half precision.
  let e = exp - 127 + 15;
  if (e >= 0x1f) {
    return sign | 0x7c00;
  }
  if (e <= 0) {
    if (e < -10) {
      return sign;
    }
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) {
      m++;
    }
    return sign | m;
  }
  let m = mant >> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) {
        return sign | 0x7c00;
      }
    }
  }
  return sign | (e << 10) | m;
}
