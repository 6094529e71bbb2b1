/**
 * Reader of the LevelDB-style SSTable ("table") that holds a tensor bundle's `.index`
 * (notes/weight-formats.md section 1.1; tsl/lib/io/{format,block,table}.cc).
 * Layout: data blocks, metaindex block, index block, each followed by a 5-byte trailer
 * (type byte + masked CRC32C), then a 48-byte footer ending in the table magic.
 * Blocks are read one at a time; every block's CRC is verified before it is parsed.
 */
import { MemoryByteSource, type ByteSource } from '../../core/byteSource';
import { throwIfAborted, WeightFileError } from '../../core/errors';
import { crc32cUpdate, unmaskCrc } from './crc32c';
import { snappyDecompress, SnappyError } from './snappy';

/** Footer::kEncodedLength: two padded BlockHandles (40 bytes) + 8-byte magic. */
export const footerBytes = 48;

/** Block trailer: uint8 compression type + fixed32 masked CRC32C. */
export const blockTrailerBytes = 5;

/** kTableMagicNumber 0xdb4775248b80fb57 as stored (two little-endian fixed32 words, low first). */
export const tableMagic = Uint8Array.of(0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb);

/** Index files up to this size are read whole at open, in bytes. */
const wholeFileBytes = 16 * 1024 * 1024;

/** Largest block Weightscope decompresses, in bytes (TF writes ~256 KiB blocks). */
const maxBlockBytes = 256 * 1024 * 1024;

/** Where a block lives in the table file; `size` excludes the trailer. */
export interface BlockHandle {
  /** Byte offset of the block in the file. */
  offset: number;
  /** Block length in bytes, without the 5-byte trailer. */
  size: number;
}

/** One key/value pair of a block. */
export interface TableEntry {
  /** Full key (prefix compression undone). */
  key: Uint8Array;
  /** Value bytes (a view into the decompressed block). */
  value: Uint8Array;
}

/** True when the last 8 bytes of `tail` are the table magic. */
export function hasTableMagic(tail: Uint8Array): boolean {
  if (tail.length < tableMagic.length) {
    return false;
  }
  const at = tail.length - tableMagic.length;
  return tableMagic.every((b, i) => tail[at + i] === b);
}

/** Bytewise comparison of two keys (the table's comparator). */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      return a[i]! - b[i]!;
    }
  }
  return a.length - b.length;
}

/** Bounds-checked varint reading inside a block; returns [value, next position]. */
function readVarint(bytes: Uint8Array, pos: number, maxBytes: number, end: number, fail: (detail: string) => WeightFileError): [number, number] {
  let result = 0;
  for (let i = 0; i < maxBytes; i++) {
    if (pos >= end) {
      throw fail(`a varint at byte ${pos - i} runs past the end`);
    }
    const b = bytes[pos++]!;
    result += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      if (result > Number.MAX_SAFE_INTEGER) {
        throw fail(`the varint ${result} at byte ${pos - i - 1} is too large`);
      }
      return [result, pos];
    }
  }
  throw fail(`a varint at byte ${pos - maxBytes} is longer than ${maxBytes} bytes`);
}

/** Decodes a BlockHandle (varint64 offset, varint64 size) at `pos`; returns it and the next position. */
export function decodeBlockHandle(bytes: Uint8Array, pos: number, fail: (detail: string) => WeightFileError): [BlockHandle, number] {
  const [offset, p1] = readVarint(bytes, pos, 10, bytes.length, fail);
  const [size, p2] = readVarint(bytes, p1, 10, bytes.length, fail);
  return [{ offset, size }, p2];
}

/**
 * Parses a decompressed block into its entries (block.cc): entries of
 * varint32 shared, varint32 non_shared, varint32 value_len, key delta, value; then
 * fixed32 restarts[num_restarts] and fixed32 num_restarts. Checks that restart points fall on
 * entries with shared == 0 and that keys strictly ascend.
 */
export function parseBlock(block: Uint8Array, fail: (detail: string) => WeightFileError): TableEntry[] {
  if (block.length < 4) {
    throw fail(`the block is ${block.length} bytes, too short for its restart count`);
  }
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const numRestarts = view.getUint32(block.length - 4, true);
  const maxRestarts = Math.floor((block.length - 4) / 4);
  if (numRestarts > maxRestarts || (numRestarts === 0 && block.length > 4)) {
    throw fail(`num_restarts ${numRestarts} does not fit a ${block.length}-byte block`);
  }
  const restartsStart = block.length - 4 * (numRestarts + 1);
  const restarts = new Set<number>();
  for (let i = 0; i < numRestarts; i++) {
    const r = view.getUint32(restartsStart + 4 * i, true);
    if (r >= restartsStart && !(r === 0 && restartsStart === 0)) {
      throw fail(`restart point ${i} = ${r} lies past the entries (which end at byte ${restartsStart})`);
    }
    restarts.add(r);
  }
  const entries: TableEntry[] = [];
  let prevKey = new Uint8Array(0);
  let pos = 0;
  const entryStarts = new Set<number>();
  while (pos < restartsStart) {
    const start = pos;
    entryStarts.add(start);
    let shared: number;
    let nonShared: number;
    let valueLength: number;
    [shared, pos] = readVarint(block, pos, 5, restartsStart, fail);
    [nonShared, pos] = readVarint(block, pos, 5, restartsStart, fail);
    [valueLength, pos] = readVarint(block, pos, 5, restartsStart, fail);
    if (shared > prevKey.length) {
      throw fail(`the entry at byte ${start} shares ${shared} key bytes but the previous key has ${prevKey.length}`);
    }
    if (restarts.has(start) && shared !== 0) {
      throw fail(`the restart entry at byte ${start} shares ${shared} key bytes (must be 0)`);
    }
    if (nonShared + valueLength > restartsStart - pos) {
      throw fail(`the entry at byte ${start} declares ${nonShared} key and ${valueLength} value bytes but only ${restartsStart - pos} remain`);
    }
    const key = new Uint8Array(shared + nonShared);
    key.set(prevKey.subarray(0, shared), 0);
    key.set(block.subarray(pos, pos + nonShared), shared);
    pos += nonShared;
    const value = block.subarray(pos, pos + valueLength);
    pos += valueLength;
    if (entries.length > 0 && compareKeys(prevKey, key) >= 0) {
      throw fail(`the key at byte ${start} does not sort after the previous key`);
    }
    entries.push({ key, value });
    prevKey = key;
  }
  for (const r of restarts) {
    if (!entryStarts.has(r) && !(r === 0 && entries.length === 0)) {
      throw fail(`restart point ${r} is not the start of an entry`);
    }
  }
  return entries;
}

/** An opened table: the footer and index block are parsed; data blocks are read on demand. */
export class TableReader {
  private constructor(
    /** The `.index` file. */
    readonly source: ByteSource,
    /** The data blocks in key order, with the index block's separator key of each. */
    readonly dataBlocks: readonly { separator: Uint8Array; handle: BlockHandle }[],
  ) {}

  /**
   * Reads and checks the footer and the index block (table.cc Table::Open). Index files up to
   * `wholeFileBytes` are read in one go and their blocks served from memory (one read, not one per block).
   */
  static async open(fileSource: ByteSource): Promise<TableReader> {
    const source = fileSource.size <= wholeFileBytes ? new MemoryByteSource(fileSource.name, await fileSource.read(0, fileSource.size)) : fileSource;
    const name = source.name;
    if (source.size < footerBytes) {
      throw new WeightFileError('truncated', `${name}: ${source.size} bytes is shorter than the ${footerBytes}-byte table footer.`, { file: name });
    }
    const footerStart = source.size - footerBytes;
    const footer = await source.read(footerStart, footerBytes);
    if (!hasTableMagic(footer)) {
      const got = [...footer.subarray(40)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      // A file named .index without its footer magic was cut short (or damaged); anything else is not a table.
      throw new WeightFileError(
        name.endsWith('.index') ? 'truncated' : 'unrecognized',
        `${name}: the file does not end with the table magic 57 fb 80 8b 24 75 47 db (found ${got}); the index is truncated or damaged.`,
        { file: name },
      );
    }
    const fail = (detail: string): WeightFileError =>
      new WeightFileError('corrupt', `${name}: the table footer is malformed, ${detail}.`, { file: name, offset: footerStart });
    // Footer: metaindex_handle, then index_handle (format.cc Footer::DecodeFrom).
    const [metaindex, p1] = decodeBlockHandle(footer.subarray(0, 40), 0, fail);
    const [indexHandle] = decodeBlockHandle(footer.subarray(0, 40), p1, fail);
    const table = new TableReader(source, []);
    table.checkHandle(metaindex, 'metaindex block');
    table.checkHandle(indexHandle, 'index block');
    const indexEntries = await table.readBlock(indexHandle, 'index block');
    const blocks: { separator: Uint8Array; handle: BlockHandle }[] = [];
    for (const e of indexEntries) {
      const failEntry = (detail: string): WeightFileError =>
        new WeightFileError('corrupt', `${name}: index block entry ${blocks.length} is malformed, ${detail}.`, { file: name, offset: indexHandle.offset });
      const [handle] = decodeBlockHandle(e.value, 0, failEntry);
      table.checkHandle(handle, `data block ${blocks.length}`);
      blocks.push({ separator: e.key, handle });
    }
    return new TableReader(source, blocks);
  }

  /** Throws `corrupt` when a block handle points outside the blocks area of the file. */
  checkHandle(handle: BlockHandle, what: string): void {
    const limit = this.source.size - footerBytes;
    if (handle.offset + handle.size + blockTrailerBytes > limit) {
      throw new WeightFileError(
        'corrupt',
        `${this.source.name}: the ${what} handle (offset ${handle.offset}, size ${handle.size}) points past the end of the table data at byte ${limit}.`,
        { file: this.source.name, offset: handle.offset },
      );
    }
  }

  /**
   * Reads one block: verifies the trailer's masked CRC32C over the stored bytes and the type
   * byte, decompresses Snappy blocks (type 1), and parses the entries.
   */
  async readBlock(handle: BlockHandle, what: string): Promise<TableEntry[]> {
    const name = this.source.name;
    this.checkHandle(handle, what);
    const stored = await this.source.read(handle.offset, handle.size + blockTrailerBytes);
    const contents = stored.subarray(0, handle.size);
    const type = stored[handle.size]!;
    const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
    const storedCrc = unmaskCrc(view.getUint32(handle.size + 1, true));
    const actualCrc = crc32cUpdate(crc32cUpdate(0, contents), stored.subarray(handle.size, handle.size + 1));
    if (storedCrc !== actualCrc) {
      throw new WeightFileError(
        'checksumMismatch',
        `${name}: the ${what} at offset ${handle.offset} fails its CRC32C check (stored 0x${hex32(storedCrc)}, computed 0x${hex32(actualCrc)}); the index file is damaged.`,
        { file: name, offset: handle.offset },
      );
    }
    let block: Uint8Array;
    if (type === 0) {
      block = contents;
    } else if (type === 1) {
      try {
        block = snappyDecompress(contents, Math.min(maxBlockBytes, contents.length * 22 + 64));
      } catch (ex) {
        if (ex instanceof SnappyError) {
          throw new WeightFileError('corrupt', `${name}: the Snappy-compressed ${what} at offset ${handle.offset} is malformed: ${ex.message}.`, {
            file: name,
            offset: handle.offset,
          });
        }
        throw ex;
      }
    } else {
      throw new WeightFileError('corrupt', `${name}: the ${what} at offset ${handle.offset} has unknown compression type ${type}.`, {
        file: name,
        offset: handle.offset,
      });
    }
    return parseBlock(block, (detail) => new WeightFileError('corrupt', `${name}: the ${what} at offset ${handle.offset} is malformed, ${detail}.`, { file: name, offset: handle.offset }));
  }

  /** All entries of all data blocks, in key order (checks ordering across blocks too). */
  async *entries(signal?: AbortSignal): AsyncGenerator<TableEntry> {
    let prev: Uint8Array | undefined;
    for (let i = 0; i < this.dataBlocks.length; i++) {
      throwIfAborted(signal);
      const entries = await this.readBlock(this.dataBlocks[i]!.handle, `data block ${i}`);
      for (const e of entries) {
        if (prev && compareKeys(prev, e.key) >= 0) {
          throw new WeightFileError('corrupt', `${this.source.name}: data block ${i} starts with a key that does not sort after the previous block's keys.`, {
            file: this.source.name,
          });
        }
        prev = e.key;
        yield e;
      }
    }
  }
}

/** Formats a 32-bit value as 8 hex digits. */
export function hex32(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}
