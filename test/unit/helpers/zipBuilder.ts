/**
 * Small in-memory writers for test archives: ZIP (STORED or DEFLATED members, optional ZIP64
 * records, as Python's zipfile writes them) and NumPy `.npy` streams (numpy/lib/format.py layout).
 */
import * as zlib from 'node:zlib';

/** One member to write. */
export interface ZipMemberSpec {
  /** Path inside the archive. */
  name: string;
  /** Uncompressed bytes. */
  data: Uint8Array;
  /** 0 = STORED, 8 = DEFLATED. */
  method: 0 | 8;
}

const crcTable = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, as ZIP uses). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Concatenates byte arrays. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes a ZIP archive; `zip64` writes ZIP64 extra fields and end records like zipfile(force_zip64=True). */
export function buildZip(members: ZipMemberSpec[], options: { zip64?: boolean; comment?: string } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = new TextEncoder().encode(m.name);
    const stored = m.method === 8 ? new Uint8Array(zlib.deflateRawSync(m.data)) : m.data;
    const crc = crc32(m.data);
    const zip64Extra = new Uint8Array(options.zip64 ? 28 : 0);
    if (options.zip64) {
      const ev = new DataView(zip64Extra.buffer);
      ev.setUint16(0, 0x0001, true);
      ev.setUint16(2, 24, true);
      ev.setBigUint64(4, BigInt(m.data.length), true);
      ev.setBigUint64(12, BigInt(stored.length), true);
      ev.setBigUint64(20, BigInt(offset), true);
    }
    const local = new Uint8Array(30);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, options.zip64 ? 45 : 20, true);
    lv.setUint16(8, m.method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, options.zip64 ? 0xffffffff : stored.length, true);
    lv.setUint32(22, options.zip64 ? 0xffffffff : m.data.length, true);
    lv.setUint16(26, name.length, true);
    const localExtra = options.zip64 ? zip64Extra.slice(0, 20) : new Uint8Array(0);
    if (options.zip64) {
      new DataView(localExtra.buffer, localExtra.byteOffset).setUint16(2, 16, true);
    }
    lv.setUint16(28, localExtra.length, true);
    parts.push(local, name, localExtra, stored);
    const c = new Uint8Array(46);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, options.zip64 ? 45 : 20, true);
    cv.setUint16(10, m.method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, options.zip64 ? 0xffffffff : stored.length, true);
    cv.setUint32(24, options.zip64 ? 0xffffffff : m.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, zip64Extra.length, true);
    cv.setUint32(42, options.zip64 ? 0xffffffff : offset, true);
    central.push(c, name, zip64Extra);
    offset += 30 + name.length + localExtra.length + stored.length;
  }
  const cd = concatBytes(central);
  const tailParts: Uint8Array[] = [];
  if (options.zip64) {
    const e64 = new Uint8Array(56);
    const v = new DataView(e64.buffer);
    v.setUint32(0, 0x06064b50, true);
    v.setBigUint64(4, 44n, true);
    v.setUint16(12, 45, true);
    v.setUint16(14, 45, true);
    v.setBigUint64(24, BigInt(members.length), true);
    v.setBigUint64(32, BigInt(members.length), true);
    v.setBigUint64(40, BigInt(cd.length), true);
    v.setBigUint64(48, BigInt(offset), true);
    const loc = new Uint8Array(20);
    const lv = new DataView(loc.buffer);
    lv.setUint32(0, 0x07064b50, true);
    lv.setBigUint64(8, BigInt(offset + cd.length), true);
    lv.setUint32(16, 1, true);
    tailParts.push(e64, loc);
  }
  const comment = new TextEncoder().encode(options.comment ?? '');
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, options.zip64 ? 0xffff : members.length, true);
  ev.setUint16(10, options.zip64 ? 0xffff : members.length, true);
  ev.setUint32(12, options.zip64 ? 0xffffffff : cd.length, true);
  ev.setUint32(16, options.zip64 ? 0xffffffff : offset, true);
  ev.setUint16(20, comment.length, true);
  return concatBytes([...parts, cd, ...tailParts, eocd, comment]);
}

/**
 * Writes a `.npy` stream: magic, version, header length (u16 for 1.0, u32 for 2.0/3.0), the dict
 * literal padded with spaces so the data starts at a multiple of 64, '\n', then the data.
 */
export function buildNpy(descr: string, shape: number[], data: Uint8Array, options: { version?: 1 | 2 | 3; fortranOrder?: boolean; rawHeader?: string } = {}): Uint8Array {
  const version = options.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = options.rawHeader ?? `{'descr': '${descr}', 'fortran_order': ${options.fortranOrder ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  dict += ' '.repeat(total - pre - dict.length - 1) + '\n';
  const header = new TextEncoder().encode(dict);
  const head = new Uint8Array(pre);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const hv = new DataView(head.buffer);
  if (version === 1) {
    hv.setUint16(8, header.length, true);
  } else {
    hv.setUint32(8, header.length, true);
  }
  return concatBytes([head, header, data]);
}
