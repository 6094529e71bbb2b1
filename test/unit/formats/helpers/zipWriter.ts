/**
 * A tiny in-memory ZIP writer for tests (PKWARE APPNOTE 4.3.7 local headers, 4.3.12 central
 * directory, 4.3.16 end record): STORED or DEFLATED members, no ZIP64, no encryption.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { MemoryByteSource } from '../../../../src/core/byteSource';
import { readZipDirectory } from '../../../../src/core/zip';

/** One member to write. */
export interface ZipMemberSpec {
  /** Path inside the archive. */
  name: string;
  /** Uncompressed bytes. */
  data: Uint8Array;
  /** Compress with raw DEFLATE (method 8) instead of STORED (method 0). */
  deflate?: boolean;
}

/** Builds a complete ZIP archive in memory. */
export function writeZip(members: readonly ZipMemberSpec[]): Uint8Array {
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = enc.encode(m.name);
    const stored = m.deflate ? new Uint8Array(zlib.deflateRawSync(m.data)) : m.data;
    const crc = zlib.crc32(m.data) >>> 0;
    const method = m.deflate ? 8 : 0;
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true); // local file header signature
    lv.setUint16(4, 20, true); // version needed to extract
    lv.setUint16(6, 0x800, true); // flags: UTF-8 names
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, stored.length, true); // compressed size
    lv.setUint32(22, m.data.length, true); // uncompressed size
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true); // central file header signature
    cv.setUint16(4, 20, true); // version made by
    cv.setUint16(6, 20, true); // version needed
    cv.setUint16(8, 0x800, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, stored.length, true);
    cv.setUint32(24, m.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true); // relative offset of local header
    central.set(name, 46);
    locals.push(local, stored);
    centrals.push(central);
    offset += local.length + stored.length;
  }
  const cdSize = centrals.reduce((a, c) => a + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true); // end of central directory signature
  ev.setUint16(8, members.length, true); // entries on this disk
  ev.setUint16(10, members.length, true); // total entries
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true); // offset of the central directory
  const parts = [...locals, ...centrals, eocd];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The members of a ZIP archive on disk whose members are all STORED (as Keras writes .keras files), by name. */
export async function readStoredMembers(p: string): Promise<Map<string, Uint8Array>> {
  const bytes = fs.readFileSync(p);
  const source = new MemoryByteSource(p, bytes);
  const out = new Map<string, Uint8Array>();
  for (const e of await readZipDirectory(source)) {
    // The data follows the 30-byte local header, name and extra field.
    const v = new DataView(bytes.buffer, bytes.byteOffset + e.localHeaderOffset, 30);
    const start = e.localHeaderOffset + 30 + v.getUint16(26, true) + v.getUint16(28, true);
    assert.equal(e.method, 0, `${e.name} is STORED`);
    out.set(e.name, new Uint8Array(bytes.subarray(start, start + e.compressedSize)));
  }
  return out;
}
