/**
 * Read-only ZIP access through a ByteSource: the central directory, STORED members as in-place
 * slices, DEFLATED members as streaming-inflated sources (node:zlib). Used by `.npz` and Keras 3
 * `.keras` archives. Layout: PKWARE APPNOTE.TXT 6.3.x, sections 4.3.7 (local file header),
 * 4.3.12 (central directory header), 4.3.14-4.3.16 (ZIP64 end records), 4.5.3 (ZIP64 extra field).
 */
import type * as Zlib from 'node:zlib';
import { checkRange, SliceByteSource, type ByteSource } from './byteSource';
import { throwIfAborted, WeightFileError } from './errors';

let zlibModule: typeof Zlib | undefined;

/** node:zlib, loaded with the first compressed member (loading it costs a few milliseconds at every start). */
function zlib(): typeof Zlib {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  zlibModule ??= require('node:zlib') as typeof Zlib;
  return zlibModule;
}

/** One member of a ZIP archive, from its central directory record. */
export interface ZipEntry {
  /** Path inside the archive ('/'-separated, as stored). */
  name: string;
  /** Compression method: 0 = STORED, 8 = DEFLATED (others are listed but cannot be opened). */
  method: number;
  /** General-purpose flags (bit 0 = encrypted, bit 3 = data descriptor, bit 11 = UTF-8 name). */
  flags: number;
  /** CRC-32 of the uncompressed bytes, as recorded. */
  crc32: number;
  /** Stored (compressed) size in bytes. */
  compressedSize: number;
  /** Uncompressed size in bytes. */
  uncompressedSize: number;
  /** Offset of the member's local file header in the archive. */
  localHeaderOffset: number;
  /** True for directory entries (name ends with '/'). */
  isDirectory: boolean;
}

/** ZIP compression method numbers (APPNOTE 4.4.5). */
export const zipMethodStored = 0;
/** DEFLATE (RFC 1951), the only compression method opened. */
export const zipMethodDeflated = 8;

/** Largest central directory read, in bytes (about 600,000 members with short names). */
const maxCentralDirectoryBytes = 64 * 1024 * 1024;

/** End-of-central-directory record: 22 bytes plus a comment of at most 65535 bytes (APPNOTE 4.3.16). */
const eocdMinBytes = 22;
const eocdMaxBytes = eocdMinBytes + 0xffff;

/** Compressed bytes read per step while inflating. */
const inflateReadBytes = 16 * 1024;

const sigEocd = 0x06054b50;
const sigEocd64 = 0x06064b50;
const sigEocd64Locator = 0x07064b50;
const sigCentral = 0x02014b50;
const sigLocal = 0x04034b50;

/** True when the first bytes look like a ZIP local file header or an empty archive. */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

function corrupt(source: ByteSource, message: string, offset?: number): WeightFileError {
  return new WeightFileError('corrupt', `${source.name}: ${message}`, { file: source.name, ...(offset !== undefined ? { offset } : {}) });
}

/** Lists the members of a ZIP archive from its central directory. Throws `unrecognized` when there is no end record. */
export async function readZipDirectory(source: ByteSource): Promise<ZipEntry[]> {
  const tailLength = Math.min(source.size, eocdMaxBytes);
  if (tailLength < eocdMinBytes) {
    throw new WeightFileError('truncated', `${source.name}: ${source.size} bytes is too short for a ZIP archive (at least 22 bytes).`, { file: source.name });
  }
  const tailStart = source.size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let at = -1;
  for (let i = tail.length - eocdMinBytes; i >= 0; i--) {
    // The comment length must reach exactly to the end of the file.
    if (tv.getUint32(i, true) === sigEocd && i + eocdMinBytes + tv.getUint16(i + 20, true) === tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) {
    throw new WeightFileError('unrecognized', `${source.name}: no ZIP end-of-central-directory record in the last ${tailLength} bytes; not a ZIP archive or truncated.`, {
      file: source.name,
    });
  }
  // EOCD: disk 4, cd disk 6, entries on disk 8, total entries 10, cd size 12, cd offset 16, comment length 20.
  let count = tv.getUint16(at + 10, true);
  let cdSize = tv.getUint32(at + 12, true);
  let cdOffset = tv.getUint32(at + 16, true);
  // The central directory ends where the (ZIP64) end record starts.
  let cdEnd = tailStart + at;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // ZIP64: a 20-byte locator sits just before the EOCD and points at the ZIP64 EOCD record.
    const locAt = tailStart + at - 20;
    if (locAt < 0) {
      throw corrupt(source, 'the ZIP end record asks for ZIP64 but there is no room for its locator.', tailStart + at);
    }
    const loc = await source.read(locAt, 20);
    const lv = new DataView(loc.buffer, loc.byteOffset, 20);
    if (lv.getUint32(0, true) !== sigEocd64Locator) {
      throw corrupt(source, `the ZIP64 end-of-central-directory locator at byte ${locAt} has signature 0x${lv.getUint32(0, true).toString(16)}.`, locAt);
    }
    // Like Python's zipfile, read the 56-byte ZIP64 end record right before the locator (its recorded
    // offset would be wrong when bytes precede the archive), falling back to the recorded offset.
    let e64At = locAt - 56;
    const sigBytes = e64At >= 0 ? await source.read(e64At, 4) : undefined;
    if (!sigBytes || new DataView(sigBytes.buffer, sigBytes.byteOffset, 4).getUint32(0, true) !== sigEocd64) {
      e64At = safeU64(source, lv, 8, locAt);
      checkRange(source, e64At, 56);
    }
    const e64 = await source.read(e64At, 56);
    const ev = new DataView(e64.buffer, e64.byteOffset, 56);
    if (ev.getUint32(0, true) !== sigEocd64) {
      throw corrupt(source, `the ZIP64 end-of-central-directory record at byte ${e64At} has signature 0x${ev.getUint32(0, true).toString(16)}.`, e64At);
    }
    count = safeU64(source, ev, 32, e64At);
    cdSize = safeU64(source, ev, 40, e64At);
    cdOffset = safeU64(source, ev, 48, e64At);
    cdEnd = e64At;
  }
  // Bytes before the archive (a ZIP appended to another file, as TFLite associated files are) shift
  // every recorded offset; like Python's zipfile, derive the shift from where the directory really ends.
  const shift = cdEnd - cdSize - cdOffset;
  if (shift < 0) {
    throw new WeightFileError(
      'truncated',
      `${source.name}: the ZIP central directory should span bytes ${cdOffset}..${cdOffset + cdSize} but the end record starts at byte ${cdEnd}; the archive is truncated or damaged.`,
      { file: source.name, offset: cdEnd },
    );
  }
  cdOffset += shift;
  if (cdSize > maxCentralDirectoryBytes) {
    throw new WeightFileError('tooLarge', `${source.name}: the ZIP central directory claims ${cdSize} bytes, more than the ${maxCentralDirectoryBytes}-byte limit.`, {
      file: source.name,
    });
  }
  if (count * 46 > cdSize) {
    throw corrupt(source, `the ZIP end record lists ${count} members but the central directory has only ${cdSize} bytes.`);
  }
  checkRange(source, cdOffset, cdSize);
  const cd = await source.read(cdOffset, cdSize);
  const v = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || v.getUint32(p, true) !== sigCentral) {
      throw corrupt(source, `central directory record ${i} at byte ${cdOffset + p} is damaged (bad signature or cut short).`, cdOffset + p);
    }
    // Central header: flags 8, method 10, crc 16, csize 20, usize 24, name len 28, extra len 30, comment len 32, local offset 42.
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    const crc32 = v.getUint32(p + 16, true);
    let compressedSize = v.getUint32(p + 20, true);
    let uncompressedSize = v.getUint32(p + 24, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    let localHeaderOffset = v.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cd.length) {
      throw corrupt(source, `central directory record ${i} at byte ${cdOffset + p} runs past the directory's end.`, cdOffset + p);
    }
    const nameBytes = cd.subarray(p + 46, p + 46 + nameLen);
    const name = new TextDecoder(flags & 0x800 ? 'utf-8' : 'latin1').decode(nameBytes);
    // ZIP64 extra field (id 0x0001): the 0xFFFFFFFF fields, in order usize, csize, offset.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = v.getUint16(e, true);
      const size = v.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (): number => {
          if (q + 8 > e + 4 + size) {
            throw corrupt(source, `the ZIP64 extra field of '${name}' is too short.`, cdOffset + e);
          }
          const value = safeU64(source, v, q, cdOffset + q);
          q += 8;
          return value;
        };
        if (uncompressedSize === 0xffffffff) {
          uncompressedSize = take();
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = take();
        }
        if (localHeaderOffset === 0xffffffff) {
          localHeaderOffset = take();
        }
      }
      e += 4 + size;
    }
    localHeaderOffset += shift;
    entries.push({ name, method, flags, crc32, compressedSize, uncompressedSize, localHeaderOffset, isDirectory: name.endsWith('/') });
    p = end;
  }
  return entries;
}

function safeU64(source: ByteSource, view: DataView, at: number, fileOffset: number): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw corrupt(source, `a ZIP64 field at byte ${fileOffset} holds ${value}, beyond any real file size.`, fileOffset);
  }
  return Number(value);
}

/** Offset of a member's data: after its local header (30 bytes + name + extra, APPNOTE 4.3.7). */
export async function zipEntryDataOffset(source: ByteSource, entry: ZipEntry): Promise<number> {
  checkRange(source, entry.localHeaderOffset, 30);
  const h = await source.read(entry.localHeaderOffset, 30);
  const v = new DataView(h.buffer, h.byteOffset, 30);
  if (v.getUint32(0, true) !== sigLocal) {
    throw corrupt(source, `the local header of '${entry.name}' at byte ${entry.localHeaderOffset} has signature 0x${v.getUint32(0, true).toString(16)}.`, entry.localHeaderOffset);
  }
  const start = entry.localHeaderOffset + 30 + v.getUint16(26, true) + v.getUint16(28, true);
  checkRange(source, start, entry.compressedSize);
  return start;
}

function checkOpenable(source: ByteSource, entry: ZipEntry): void {
  if (entry.flags & 0x1) {
    throw new WeightFileError('unsupportedFormat', `${source.name}: the ZIP member '${entry.name}' is encrypted.`, { file: source.name });
  }
  if (entry.method !== zipMethodStored && entry.method !== zipMethodDeflated) {
    throw new WeightFileError('unsupportedFormat', `${source.name}: the ZIP member '${entry.name}' uses compression method ${entry.method}; only STORED (0) and DEFLATED (8) are read.`, {
      file: source.name,
    });
  }
  if (entry.method === zipMethodStored && entry.compressedSize !== entry.uncompressedSize) {
    throw corrupt(source, `the STORED ZIP member '${entry.name}' has compressed size ${entry.compressedSize} but uncompressed size ${entry.uncompressedSize}.`);
  }
}

/**
 * A ByteSource over one member's uncompressed bytes: a slice of the archive for STORED members,
 * a streaming inflater for DEFLATED ones (fast for forward reads; reading backwards re-inflates).
 */
export async function openZipEntry(source: ByteSource, entry: ZipEntry): Promise<ByteSource> {
  checkOpenable(source, entry);
  const start = await zipEntryDataOffset(source, entry);
  const name = `${source.name}/${entry.name}`;
  if (entry.method === zipMethodStored) {
    return new SliceByteSource(name, source, start, entry.compressedSize);
  }
  return new InflatingByteSource(name, source, start, entry.compressedSize, entry.uncompressedSize, entry.crc32);
}

const crcTable = ((): Uint32Array => {
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

/** Continues a CRC-32 (IEEE 802.3, the ZIP checksum, APPNOTE 4.4.7); start with 0xffffffff, finish with `~crc >>> 0`. */
function crc32Update(crc: number, bytes: Uint8Array): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) {
    c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  }
  return c;
}

/**
 * Streams the inflated bytes of raw DEFLATE data at [start, start+compressedSize) of a source,
 * reading the compressed bytes in chunks (never the whole member at once). New compressed bytes
 * are fed only when the inflated output has been consumed, so memory stays bounded.
 */
export async function* inflateRawStream(source: ByteSource, start: number, compressedSize: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const inflater = zlib().createInflateRaw({ chunkSize: 64 * 1024 });
  const queue: Uint8Array[] = [];
  let failed: unknown;
  let ended = false;
  let wake: (() => void) | undefined;
  let writeDone: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  inflater.on('data', (chunk: Buffer) => {
    queue.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    notify();
  });
  inflater.on('end', () => {
    ended = true;
    notify();
    writeDone?.();
  });
  inflater.on('error', (ex) => {
    failed = ex;
    notify();
    // A failed stream may never call the pending write's callback.
    writeDone?.();
  });
  const inflateError = (): WeightFileError =>
    WeightFileError.is(failed)
      ? failed
      : new WeightFileError('corrupt', `${source.name}: the DEFLATE data at byte ${start} cannot be inflated (${failed instanceof Error ? failed.message : String(failed)}).`, {
          file: source.name,
          offset: start,
        });
  let pos = 0;
  let inputClosed = false;
  try {
    for (;;) {
      throwIfAborted(signal);
      if (failed) {
        throw inflateError();
      }
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (ended) {
        return;
      }
      if (pos < compressedSize) {
        const n = Math.min(inflateReadBytes, compressedSize - pos);
        let bytes: Uint8Array;
        try {
          bytes = await source.read(start + pos, n);
        } catch (ex) {
          failed = ex;
          continue;
        }
        pos += n;
        // The write callback runs once zlib has processed the chunk (or with the error).
        await new Promise<void>((resolve) => {
          writeDone = resolve;
          inflater.write(bytes, () => resolve());
        });
        writeDone = undefined;
        continue;
      }
      if (!inputClosed) {
        inputClosed = true;
        inflater.end();
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (queue.length > 0 || ended || failed) {
          notify();
        }
      });
    }
  } finally {
    inflater.removeAllListeners('data');
    inflater.on('error', () => undefined);
    inflater.destroy();
  }
}

/**
 * A ByteSource over a DEFLATED member, inflating forward from the last position read. Every
 * inflated byte goes through a CRC-32; once the whole member has been inflated the sum must match
 * the central directory's (raw DEFLATE data carries no checksum of its own).
 */
class InflatingByteSource implements ByteSource {
  private iterator: AsyncGenerator<Uint8Array> | undefined;
  /** Uncompressed bytes [bufStart, bufStart + buf.length) held from the stream. */
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;
  /** Bytes inflated so far by the current stream, and their running CRC-32. */
  private produced = 0;
  private crc = 0xffffffff;

  constructor(
    readonly name: string,
    private readonly parent: ByteSource,
    private readonly start: number,
    private readonly compressedSize: number,
    readonly size: number,
    private readonly expectedCrc: number,
  ) {}

  /** Accounts one inflated chunk; throws when the member inflates past its size or to the wrong checksum. */
  private check(chunk: Uint8Array): void {
    this.crc = crc32Update(this.crc, chunk);
    this.produced += chunk.length;
    if (this.produced > this.size) {
      throw new WeightFileError('corrupt', `${this.name}: the compressed data inflates to more than the ${this.size} bytes the archive declares.`, { file: this.name });
    }
    if (this.produced === this.size) {
      const crc = ~this.crc >>> 0;
      if (crc !== this.expectedCrc) {
        throw new WeightFileError(
          'checksumMismatch',
          `${this.name}: the inflated bytes have CRC-32 0x${crc.toString(16).padStart(8, '0')} but the archive records 0x${this.expectedCrc.toString(16).padStart(8, '0')}; the member is damaged.`,
          { file: this.name },
        );
      }
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    if (length === 0) {
      return new Uint8Array(0);
    }
    if (!this.iterator || offset < this.bufStart) {
      await this.iterator?.return(undefined);
      this.iterator = inflateRawStream(this.parent, this.start, this.compressedSize);
      this.buf = new Uint8Array(0);
      this.bufStart = 0;
      this.produced = 0;
      this.crc = 0xffffffff;
    }
    // Drop bytes before `offset`, then gather inflated chunks until the range is covered (one copy).
    if (offset > this.bufStart) {
      const drop = Math.min(offset - this.bufStart, this.buf.length);
      this.buf = this.buf.subarray(drop);
      this.bufStart += drop;
    }
    const parts: Uint8Array[] = [this.buf];
    let end = this.bufStart + this.buf.length;
    while (end < offset + length) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await this.iterator.next();
        if (!r.done) {
          this.check(r.value);
        }
      } catch (ex) {
        // A failed stream cannot continue; the next read starts over (and fails the same way).
        this.iterator = undefined;
        this.buf = new Uint8Array(0);
        this.bufStart = 0;
        throw ex;
      }
      if (r.done) {
        throw new WeightFileError('truncated', `${this.name}: the compressed data ends after ${end} bytes but the archive declares ${this.size}.`, {
          file: this.name,
          offset: end,
        });
      }
      if (end + r.value.length <= offset) {
        // Entirely before the requested range: skip it.
        end += r.value.length;
        this.bufStart = end;
        parts.length = 0;
        continue;
      }
      if (end < offset) {
        parts.push(r.value.subarray(offset - end));
        this.bufStart = offset;
      } else {
        parts.push(r.value);
      }
      end += r.value.length;
    }
    if (parts.length !== 1) {
      const joined = new Uint8Array(end - this.bufStart);
      let at = 0;
      for (const part of parts) {
        joined.set(part, at);
        at += part.length;
      }
      this.buf = joined;
    } else {
      this.buf = parts[0]!;
    }
    const from = offset - this.bufStart;
    return this.buf.slice(from, from + length);
  }

  async close(): Promise<void> {
    await this.iterator?.return(undefined);
    this.iterator = undefined;
    this.buf = new Uint8Array(0);
  }
}
