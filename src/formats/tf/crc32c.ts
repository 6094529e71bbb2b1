/**
 * CRC-32C (Castagnoli) and the masking TensorFlow applies to stored checksums.
 * Spec: tsl/lib/hash/crc32c.h (notes/weight-formats.md section 1.3): polynomial 0x82F63B78
 * reflected, init 0xFFFFFFFF, final xor 0xFFFFFFFF; mask(c) = rotr15(c) + 0xa282ead8.
 * Long runs go through a three-lane WebAssembly loop (crc32c.wat); the rest, and hosts without
 * WebAssembly, through slicing-by-8 here.
 */
import { compileWasm, instantiateWasm, type WasmMemoryExports } from '../../core/wasm';
import { crc32cKernelBase64 } from './crc32c.wasm';

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

/** Bytes of one block of crc32c.wat (three lanes of 4096 bytes), the byte offset of its staging area and that area's size. */
const laneBlockBytes = 3 * 4096;
const stageAt = 0x4000;
const stageBytes = 40 * laneBlockBytes;

interface LaneExports extends WasmMemoryExports {
  /** Extends a raw register with the n bytes at byte offset p (n a multiple of laneBlockBytes). */
  lanes(c: number, p: number, n: number): number;
}

interface LaneKernel {
  lanes: LaneExports['lanes'];
  /** Its memory from stageAt, stageBytes long. */
  stage: Uint8Array;
}

let laneKernel: LaneKernel | null | undefined;

/** The three-lane loop with its tables in place, or null where it cannot run (slicing-by-8 alone serves then). */
function lanes(): LaneKernel | null {
  if (laneKernel === undefined) {
    const module = compileWasm(crc32cKernelBase64);
    laneKernel = null;
    if (module) {
      const exports = instantiateWasm<LaneExports>(module);
      const words = new Int32Array(exports.memory.buffer);
      tables.forEach((t, k) => words.set(t, 256 * k));
      buildShiftTables(4096).forEach((t, k) => words.set(t, 2048 + 256 * k));
      laneKernel = { lanes: exports.lanes, stage: new Uint8Array(exports.memory.buffer, stageAt, stageBytes) };
    }
  }
  return laneKernel;
}

/**
 * The register after `zeroBytes` zero bytes, as four byte tables (s_k[b]: the image of b << 8k);
 * the update is linear over GF(2), so crc(A ++ B) = shift_|B|(crc(A)) ^ crc_0(B), crc_0 from 0.
 */
function buildShiftTables(zeroBytes: number): Int32Array[] {
  // The images of the 32 basis registers, then each byte value as the xor of its bits' images.
  const basis = new Int32Array(32);
  for (let bit = 0; bit < 32; bit++) {
    let c = 1 << bit;
    for (let k = 0; k < zeroBytes; k++) {
      c = t0[c & 0xff]! ^ (c >>> 8);
    }
    basis[bit] = c;
  }
  return [0, 1, 2, 3].map((byte) => {
    const t = new Int32Array(256);
    for (let v = 1; v < 256; v++) {
      const low = v & -v;
      t[v] = t[v ^ low]! ^ basis[byte * 8 + 31 - Math.clz32(low)]!;
    }
    return t;
  });
}

/**
 * Extends a running CRC-32C with `bytes`. Start with `crc = 0` (the init/final xor is applied
 * inside), so `crc32cUpdate(crc32cUpdate(0, a), b) === crc32c(a ++ b)`.
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
  let c = ~crc | 0;
  let i = 0;
  const n = bytes.length;
  // Whole blocks through the three-lane loop, copied into its memory a staging area at a time.
  const k = n >= laneBlockBytes ? lanes() : null;
  if (k) {
    for (let left = n; left >= laneBlockBytes; left = n - i) {
      const m = Math.min(stageBytes, left - (left % laneBlockBytes));
      k.stage.set(bytes.subarray(i, i + m));
      c = k.lanes(c, stageAt, m);
      i += m;
    }
  }
  // Head bytes up to 4-byte alignment, then whole 32-bit words (little-endian hosts), then the tail.
  if (hostLittleEndian && n - i >= 64) {
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
