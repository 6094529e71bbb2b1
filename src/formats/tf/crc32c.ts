/**
 * CRC-32C (Castagnoli) and the masking TensorFlow applies to stored checksums.
 * Spec: tsl/lib/hash/crc32c.h (notes/weight-formats.md section 1.3): polynomial 0x82F63B78
 * reflected, init 0xFFFFFFFF, final xor 0xFFFFFFFF; mask(c) = rotr15(c) + 0xa282ead8.
 */

const maskDelta = 0xa282ead8;

/** Slicing-by-8 tables (8 x 256 entries) for the reflected Castagnoli polynomial, as int32 (V8 small integers). */
const tables = buildTables();

function buildTables(): Int32Array[] {
  const t0 = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    }
    t0[i] = c;
  }
  const out = [t0];
  for (let s = 1; s < 8; s++) {
    const prev = out[s - 1]!;
    const t = new Int32Array(256);
    for (let i = 0; i < 256; i++) {
      t[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!;
    }
    out.push(t);
  }
  return out;
}

const hostLittleEndian = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];

/**
 * Extends a running CRC-32C with `bytes`. Start with `crc = 0` (the init/final xor is applied
 * inside), so `crc32cUpdate(crc32cUpdate(0, a), b) === crc32c(a ++ b)`.
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
  let c = ~crc | 0;
  let i = 0;
  const n = bytes.length;
  // Head bytes up to 4-byte alignment, then whole 32-bit words (little-endian hosts), then the tail.
  if (hostLittleEndian && n >= 64) {
    while (i < n && (bytes.byteOffset + i) % 4 !== 0) {
      c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
      i++;
    }
    const words = new Int32Array(bytes.buffer, bytes.byteOffset + i, (n - i) >>> 3 << 1);
    for (let j = 0; j < words.length; j += 2) {
      const lo = c ^ words[j]!;
      const hi = words[j + 1]!;
      c =
        t7[lo & 0xff]! ^
        t6[(lo >>> 8) & 0xff]! ^
        t5[(lo >>> 16) & 0xff]! ^
        t4[lo >>> 24]! ^
        t3[hi & 0xff]! ^
        t2[(hi >>> 8) & 0xff]! ^
        t1[(hi >>> 16) & 0xff]! ^
        t0[hi >>> 24]!;
    }
    i += words.length * 4;
  }
  const end8 = i + ((n - i) & ~7);
  while (i < end8) {
    const lo = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      t7[lo & 0xff]! ^
      t6[(lo >>> 8) & 0xff]! ^
      t5[(lo >>> 16) & 0xff]! ^
      t4[lo >>> 24]! ^
      t3[bytes[i + 4]!]! ^
      t2[bytes[i + 5]!]! ^
      t1[bytes[i + 6]!]! ^
      t0[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < n) {
    c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    i++;
  }
  return ~c >>> 0;
}

/** CRC-32C of `bytes` (check value: crc32c("123456789") = 0xe3069283). */
export function crc32c(bytes: Uint8Array): number {
  return crc32cUpdate(0, bytes);
}

/** The masked form TensorFlow stores: rotate right by 15, plus 0xa282ead8 (mod 2^32). */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + maskDelta) >>> 0;
}

/** Inverse of maskCrc. */
export function unmaskCrc(masked: number): number {
  const rot = (masked - maskDelta) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}
