/**
 * Where the values of an HDF5 file's datasets lie, found by reading the file's own metadata in
 * TypeScript (the HDF5 File Format Specification, version 3): superblocks v0-v3, object headers
 * v1 and v2 with continuation blocks, old-style groups (symbol table, v1 B-tree, local heap) and
 * compact new-style groups (link messages), and the dataspace, datatype, filter pipeline, external
 * files and data layout messages of each dataset.
 *
 * Only what can be read as plain bytes is reported: contiguous or compact storage, no filters, no
 * external files, little-endian (or one-byte) fixed-point, floating-point or enum elements. Anything
 * else (chunked or compressed data, dense link storage, shared datatypes, big-endian data, an
 * unexpected structure) is left out and the HDF5 library keeps reading it. The walk never throws:
 * damage or an unknown structure only makes the index incomplete. Reads are bounded (metadata bytes,
 * objects, block sizes), so a hostile header cannot make it allocate or loop.
 *
 * Used to read dataset values with plain file reads instead of through the HDF5 library (hdf5.ts
 * cross-checks every location against the library before using it), and by worker threads that
 * then need no HDF5 library at all.
 */
import * as fs from 'node:fs';
import type { DType } from '../core/dtypes';

/** One dataset whose values are `byteLength` plain bytes at `offset` of the host file. */
export interface Hdf5RawDataset {
  /** Absolute path in the HDF5 file, e.g. '/model_weights/dense/dense/kernel:0'. */
  path: string;
  /** Offset of the first value in the host file (a ZIP member's start included), in bytes. */
  offset: number;
  /** Bytes of values: elements x itemBytes. */
  byteLength: number;
  /** Bytes per element. */
  itemBytes: number;
  /** Shape, row-major; [] for a scalar. */
  shape: number[];
  /** HDF5 type class: 0 fixed-point, 1 floating-point, 8 enum. */
  typeClass: number;
  /** Element type as the HDF5 type alone says (IEEE floats, integers); undefined for enums. Readers may refine it (Keras bfloat16). */
  dtype?: DType;
}

/** The datasets of one HDF5 file that can be read as plain bytes. */
export interface Hdf5LayoutIndex {
  /** Located datasets by absolute path (a dataset reachable by two paths is listed under both). */
  datasets: ReadonlyMap<string, Hdf5RawDataset>;
  /** True when every dataset of the file was located and every group could be listed. */
  complete: boolean;
}

/** Limits of one walk. */
const limits = {
  /** Objects (groups and datasets) visited. */
  objects: 100_000,
  /** Metadata bytes read. */
  metadataBytes: 64 * 1024 * 1024,
  /** Largest single metadata block (object header chunk, B-tree node, heap segment). */
  blockBytes: 16 * 1024 * 1024,
  /** Deepest group nesting followed. */
  depth: 64,
};

/** Thrown inside the walk when the file is not what the walk understands; caught at the top. */
class Unsupported extends Error {}

const undefinedAddress = -1;

/** Synchronous bounded reads of the HDF5 bytes [start, start+size) of a host file. */
class Reader {
  private read = 0;
  constructor(
    private readonly fd: number,
    /** Host-file offset of byte 0 of the HDF5 file (a ZIP member's start, or 0). */
    readonly start: number,
    /** Size of the HDF5 file in bytes. */
    readonly size: number,
  ) {}

  /** `length` bytes at HDF5-file offset `at`. */
  bytes(at: number, length: number): DataView {
    if (!Number.isSafeInteger(at) || at < 0 || length < 0 || length > limits.blockBytes || at + length > this.size) {
      throw new Unsupported(`read of ${length} bytes at ${at} outside the file`);
    }
    this.read += length;
    if (this.read > limits.metadataBytes) {
      throw new Unsupported('metadata budget exhausted');
    }
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, buf, done, length - done, this.start + at + done);
      if (n <= 0) {
        throw new Unsupported('short read');
      }
      done += n;
    }
    return new DataView(buf.buffer, buf.byteOffset, length);
  }
}

/** Little-endian unsigned integer of 1, 2, 4 or 8 bytes; all-ones (the undefined address) → -1; beyond 2^53 → Unsupported. */
function uint(v: DataView, at: number, width: number): number {
  switch (width) {
    case 1:
      return v.getUint8(at);
    case 2:
      return v.getUint16(at, true);
    case 4:
      return v.getUint32(at, true);
    case 8: {
      const lo = v.getUint32(at, true);
      const hi = v.getUint32(at + 4, true);
      if (lo === 0xffffffff && hi === 0xffffffff) {
        return undefinedAddress;
      }
      if (hi > 0x1fffff) {
        throw new Unsupported('64-bit value beyond 2^53');
      }
      return hi * 0x100000000 + lo;
    }
    default:
      throw new Unsupported(`integer width ${width}`);
  }
}

function ascii(v: DataView, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (v.getUint8(at + i) !== text.charCodeAt(i)) {
      return false;
    }
  }
  return true;
}

/** One header message: its type and a view of its body, with the body's HDF5-file offset. */
interface Message {
  type: number;
  flags: number;
  body: DataView;
  bodyAt: number;
}

const msg = {
  dataspace: 0x01,
  linkInfo: 0x02,
  datatype: 0x03,
  link: 0x06,
  external: 0x07,
  layout: 0x08,
  groupInfo: 0x0a,
  filters: 0x0b,
  continuation: 0x10,
  symbolTable: 0x11,
} as const;

class Walker {
  private readonly offsetSize: number;
  private readonly lengthSize: number;
  /** HDF5-file offset that addresses are relative to (the superblock's position). */
  private readonly base: number;
  private readonly rootAddress: number;
  private objects = 0;
  complete = true;
  readonly datasets = new Map<string, Hdf5RawDataset>();
  private readonly visitedGroups = new Set<number>();
  private readonly datasetCache = new Map<number, Omit<Hdf5RawDataset, 'path'> | null>();

  constructor(private readonly r: Reader) {
    let sb = -1;
    for (const at of [0, 512, 1024, 2048, 4096, 8192]) {
      if (at + 8 <= r.size && isSignature(r.bytes(at, 8))) {
        sb = at;
        break;
      }
    }
    if (sb < 0) {
      throw new Unsupported('no HDF5 signature');
    }
    this.base = sb;
    const head = r.bytes(sb, Math.min(r.size - sb, 128));
    const version = head.getUint8(8);
    if (version === 0 || version === 1) {
      this.offsetSize = head.getUint8(13);
      this.lengthSize = head.getUint8(14);
      checkWidths(this.offsetSize, this.lengthSize);
      // v0: 24 bytes of fixed fields, v1 adds 4; then base, free-space, EOF and driver addresses,
      // then the root group's symbol table entry (link name offset, object header address, ...).
      const fixed = version === 0 ? 24 : 28;
      const entry = fixed + 4 * this.offsetSize;
      this.rootAddress = uint(head, entry + this.offsetSize, this.offsetSize);
    } else if (version === 2 || version === 3) {
      this.offsetSize = head.getUint8(9);
      this.lengthSize = head.getUint8(10);
      checkWidths(this.offsetSize, this.lengthSize);
      // signature 8, version, sizes 2, flags 1; base, extension, EOF, root object header addresses.
      this.rootAddress = uint(head, 12 + 3 * this.offsetSize, this.offsetSize);
    } else {
      throw new Unsupported(`superblock version ${version}`);
    }
    if (this.rootAddress === undefinedAddress) {
      throw new Unsupported('no root group');
    }
  }

  walk(): void {
    this.group(this.rootAddress, '', 0);
  }

  /** Absolute HDF5-file offset of an address. */
  private abs(address: number): number {
    if (address === undefinedAddress) {
      throw new Unsupported('undefined address');
    }
    return this.base + address;
  }

  private group(address: number, prefix: string, depth: number): void {
    if (this.visitedGroups.has(address)) {
      return; // a hard link back to a group already listed
    }
    this.visitedGroups.add(address);
    if (depth > limits.depth) {
      this.complete = false;
      return;
    }
    let members: Array<{ name: string; address: number }>;
    try {
      members = this.members(this.messages(address));
    } catch (ex) {
      if (ex instanceof Unsupported) {
        this.complete = false;
        return;
      }
      throw ex;
    }
    for (const m of members) {
      if (++this.objects > limits.objects) {
        throw new Unsupported('too many objects');
      }
      const childPath = `${prefix}/${m.name}`;
      let messages: Message[];
      try {
        messages = this.messages(m.address);
      } catch (ex) {
        if (ex instanceof Unsupported) {
          this.complete = false;
          continue;
        }
        throw ex;
      }
      if (messages.some((x) => x.type === msg.layout)) {
        const located = this.dataset(m.address, messages);
        if (located) {
          this.datasets.set(childPath, { path: childPath, ...located });
        } else {
          this.complete = false;
        }
      } else if (messages.some((x) => x.type === msg.symbolTable || x.type === msg.linkInfo || x.type === msg.link || x.type === msg.groupInfo)) {
        this.group(m.address, childPath, depth + 1);
      }
    }
  }

  /** Members of a group from its header messages: a symbol table (old style) or link messages (new style). */
  private members(messages: Message[]): Array<{ name: string; address: number }> {
    const table = messages.find((x) => x.type === msg.symbolTable);
    if (table) {
      const btree = uint(table.body, 0, this.offsetSize);
      const heap = uint(table.body, this.offsetSize, this.offsetSize);
      return this.symbolTable(btree, heap);
    }
    const info = messages.find((x) => x.type === msg.linkInfo);
    if (info) {
      const flags = info.body.getUint8(1);
      const heapAt = 2 + (flags & 1 ? 8 : 0);
      if (uint(info.body, heapAt, this.offsetSize) !== undefinedAddress) {
        throw new Unsupported('dense link storage');
      }
    }
    const out: Array<{ name: string; address: number }> = [];
    for (const link of messages.filter((x) => x.type === msg.link)) {
      const parsed = this.link(link.body);
      if (parsed) {
        out.push(parsed);
      } else {
        this.complete = false;
      }
    }
    return out;
  }

  /** A hard link's name and object address; undefined for soft and external links. */
  private link(v: DataView): { name: string; address: number } | undefined {
    if (v.getUint8(0) !== 1) {
      throw new Unsupported('link message version');
    }
    const flags = v.getUint8(1);
    let at = 2;
    let linkType = 0;
    if (flags & 0x08) {
      linkType = v.getUint8(at++);
    }
    if (flags & 0x04) {
      at += 8; // creation order
    }
    if (flags & 0x10) {
      at += 1; // character set
    }
    const lengthWidth = 1 << (flags & 3);
    const nameLength = uint(v, at, lengthWidth);
    at += lengthWidth;
    const name = Buffer.from(v.buffer, v.byteOffset + at, nameLength).toString('utf8');
    at += nameLength;
    if (linkType !== 0) {
      return undefined;
    }
    return { name, address: uint(v, at, this.offsetSize) };
  }

  /** Members of an old-style group: a v1 B-tree of symbol table nodes, names in a local heap. */
  private symbolTable(btree: number, heapAddress: number): Array<{ name: string; address: number }> {
    const o = this.offsetSize;
    const l = this.lengthSize;
    const heap = this.r.bytes(this.abs(heapAddress), 8 + 2 * l + o);
    if (!ascii(heap, 0, 'HEAP')) {
      throw new Unsupported('local heap signature');
    }
    const segmentSize = uint(heap, 8, l);
    const segment = this.r.bytes(this.abs(uint(heap, 8 + 2 * l, o)), segmentSize);
    const nameAt = (offset: number): string => {
      let end = offset;
      while (end < segmentSize && segment.getUint8(end) !== 0) {
        end++;
      }
      if (end >= segmentSize) {
        throw new Unsupported('unterminated name');
      }
      return Buffer.from(segment.buffer, segment.byteOffset + offset, end - offset).toString('utf8');
    };
    const out: Array<{ name: string; address: number }> = [];
    const seenNodes = new Set<number>();
    const visit = (node: number, expectLevel: number | undefined): void => {
      if (seenNodes.has(node) || seenNodes.size > limits.objects) {
        throw new Unsupported('B-tree cycle');
      }
      seenNodes.add(node);
      const head = this.r.bytes(this.abs(node), 8 + 2 * o);
      if (!ascii(head, 0, 'TREE') || head.getUint8(4) !== 0) {
        throw new Unsupported('group B-tree node');
      }
      const level = head.getUint8(5);
      if (expectLevel !== undefined && level !== expectLevel) {
        throw new Unsupported('B-tree level');
      }
      const used = head.getUint16(6, true);
      const body = this.r.bytes(this.abs(node) + 8 + 2 * o, used * (l + o) + l);
      for (let i = 0; i < used; i++) {
        const child = uint(body, i * (l + o) + l, o);
        if (level > 0) {
          visit(child, level - 1);
        } else {
          this.symbolNode(child, nameAt, out);
        }
      }
    };
    visit(btree, undefined);
    return out;
  }

  private symbolNode(address: number, nameAt: (offset: number) => string, out: Array<{ name: string; address: number }>): void {
    const o = this.offsetSize;
    const head = this.r.bytes(this.abs(address), 8);
    if (!ascii(head, 0, 'SNOD')) {
      throw new Unsupported('symbol table node signature');
    }
    const count = head.getUint16(6, true);
    const entrySize = 2 * o + 24;
    const entries = this.r.bytes(this.abs(address) + 8, count * entrySize);
    for (let i = 0; i < count; i++) {
      const at = i * entrySize;
      const cacheType = entries.getUint32(at + 2 * o, true);
      if (cacheType === 2) {
        this.complete = false; // soft link
        continue;
      }
      out.push({ name: nameAt(uint(entries, at, o)), address: uint(entries, at + o, o) });
    }
  }

  /** The messages of an object header (v1 or v2), continuation blocks followed. */
  private messages(address: number): Message[] {
    const at = this.abs(address);
    const first = this.r.bytes(at, Math.min(16, this.r.size - at));
    const out: Message[] = [];
    const blocks: Array<{ at: number; length: number }> = [];
    let version: 1 | 2;
    let creationOrder = false;
    if (first.byteLength >= 16 && first.getUint8(0) === 1) {
      version = 1;
      blocks.push({ at: at + 16, length: first.getUint32(8, true) });
    } else if (first.byteLength >= 6 && ascii(first, 0, 'OHDR') && first.getUint8(4) === 2) {
      version = 2;
      const flags = first.getUint8(5);
      creationOrder = (flags & 0x04) !== 0;
      let pos = 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
      const width = 1 << (flags & 3);
      const sizeView = this.r.bytes(at + pos, width);
      const chunk0 = uint(sizeView, 0, width);
      pos += width;
      blocks.push({ at: at + pos, length: chunk0 });
    } else {
      throw new Unsupported('object header version');
    }
    for (let b = 0; b < blocks.length; b++) {
      if (blocks.length > 4096) {
        throw new Unsupported('too many continuation blocks');
      }
      const block = blocks[b]!;
      const view = this.r.bytes(block.at, block.length);
      let pos = 0;
      let end = block.length;
      if (version === 2 && b > 0) {
        if (!ascii(view, 0, 'OCHK')) {
          throw new Unsupported('continuation block signature');
        }
        pos = 4;
        end -= 4; // checksum
      }
      const headerSize = version === 1 ? 8 : 4 + (creationOrder ? 2 : 0);
      while (pos + headerSize <= end) {
        let type: number;
        let size: number;
        let flags: number;
        if (version === 1) {
          type = view.getUint16(pos, true);
          size = view.getUint16(pos + 2, true);
          flags = view.getUint8(pos + 4);
        } else {
          type = view.getUint8(pos);
          size = view.getUint16(pos + 1, true);
          flags = view.getUint8(pos + 3);
        }
        const bodyAt = pos + headerSize;
        if (bodyAt + size > end) {
          if (version === 2) {
            break; // a gap too small for a message header... or a damaged block
          }
          throw new Unsupported('message past its block');
        }
        const body = new DataView(view.buffer, view.byteOffset + bodyAt, size);
        if (type === msg.continuation) {
          blocks.push({ at: this.abs(uint(body, 0, this.offsetSize)), length: uint(body, this.offsetSize, this.lengthSize) });
        } else if (type !== 0) {
          out.push({ type, flags, body, bodyAt: block.at + bodyAt });
        }
        pos = bodyAt + size;
      }
    }
    return out;
  }

  /** Location of a dataset's values, or null when they cannot be read as plain bytes. */
  private dataset(address: number, messages: Message[]): Omit<Hdf5RawDataset, 'path'> | null {
    if (this.datasetCache.has(address)) {
      return this.datasetCache.get(address)!;
    }
    let located: Omit<Hdf5RawDataset, 'path'> | null = null;
    try {
      located = this.locate(messages);
    } catch (ex) {
      if (!(ex instanceof Unsupported)) {
        throw ex;
      }
    }
    this.datasetCache.set(address, located);
    return located;
  }

  private locate(messages: Message[]): Omit<Hdf5RawDataset, 'path'> | null {
    const find = (type: number): Message | undefined => messages.find((x) => x.type === type);
    if (find(msg.filters) || find(msg.external)) {
      return null;
    }
    const space = find(msg.dataspace);
    const type = find(msg.datatype);
    const layout = find(msg.layout);
    if (!space || !type || !layout || type.flags & 0x02 || space.flags & 0x02) {
      return null; // shared (committed) datatype or dataspace
    }
    const shape = this.shape(space.body);
    const element = elementType(type.body);
    if (!shape || !element) {
      return null;
    }
    let count = 1;
    for (const d of shape) {
      count *= d;
    }
    const byteLength = count * element.itemBytes;
    if (!Number.isSafeInteger(byteLength)) {
      return null;
    }
    const v = layout.body;
    const version = v.getUint8(0);
    let offset: number;
    if (version === 3 || version === 4) {
      const cls = v.getUint8(1);
      if (cls === 1) {
        const address = uint(v, 2, this.offsetSize);
        const size = uint(v, 2 + this.offsetSize, this.lengthSize);
        if (address === undefinedAddress || size !== byteLength) {
          return null; // storage never written (fill values only), or sizes disagree
        }
        offset = this.abs(address);
      } else if (cls === 0) {
        if (v.getUint16(2, true) !== byteLength) {
          return null;
        }
        offset = layout.bodyAt + 4;
      } else {
        return null;
      }
    } else if (version === 1 || version === 2) {
      if (v.getUint8(2) !== 1) {
        return null; // compact and chunked layouts of these old versions are left to the library
      }
      const address = uint(v, 8, this.offsetSize);
      if (address === undefinedAddress) {
        return null;
      }
      offset = this.abs(address);
    } else {
      return null;
    }
    if (offset + byteLength > this.r.size) {
      return null;
    }
    return { offset: this.r.start + offset, byteLength, itemBytes: element.itemBytes, shape, typeClass: element.typeClass, ...(element.dtype ? { dtype: element.dtype } : {}) };
  }

  /** Dimensions of a simple or scalar dataspace (v1 or v2); undefined for a null dataspace. */
  private shape(v: DataView): number[] | undefined {
    const version = v.getUint8(0);
    const rank = v.getUint8(1);
    let at: number;
    if (version === 1) {
      at = 8;
    } else if (version === 2) {
      if (v.getUint8(3) === 2) {
        return undefined; // null dataspace
      }
      at = 4;
    } else {
      throw new Unsupported(`dataspace version ${version}`);
    }
    const dims: number[] = [];
    for (let i = 0; i < rank; i++) {
      dims.push(uint(v, at + i * this.lengthSize, this.lengthSize));
    }
    return dims.every((d) => d >= 0) ? dims : undefined;
  }
}

function isSignature(v: DataView): boolean {
  const sig = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  return sig.every((b, i) => v.getUint8(i) === b);
}

function checkWidths(offsetSize: number, lengthSize: number): void {
  if (![2, 4, 8].includes(offsetSize) || ![2, 4, 8].includes(lengthSize)) {
    throw new Unsupported('offset/length widths');
  }
}

/**
 * Element size and class of a datatype message when its values are plain little-endian bytes:
 * fixed-point (bit offset 0, full precision), floating-point (no VAX order) and enums over such
 * an integer. Undefined for everything else.
 */
function elementType(v: DataView): { itemBytes: number; typeClass: number; dtype?: DType } | undefined {
  const cls = v.getUint8(0) & 0x0f;
  const bits0 = v.getUint8(1);
  const size = v.getUint32(4, true);
  if (![1, 2, 4, 8].includes(size)) {
    return undefined;
  }
  const littleEndian = size === 1 || (bits0 & 0x01) === 0;
  if (cls === 0) {
    const offset = v.getUint16(8, true);
    const precision = v.getUint16(10, true);
    const dtype = `${bits0 & 0x08 ? 'int' : 'uint'}${size * 8}` as DType;
    return littleEndian && offset === 0 && precision === size * 8 ? { itemBytes: size, typeClass: 0, dtype } : undefined;
  }
  if (cls === 1) {
    const vax = (bits0 & 0x40) !== 0;
    const offset = v.getUint16(8, true);
    const precision = v.getUint16(10, true);
    if (!littleEndian || vax || offset !== 0 || precision !== size * 8) {
      return undefined;
    }
    // Exponent and mantissa sizes name the IEEE type; other layouts (bfloat16 as an HDF5 float) get none.
    const ieee: Record<number, [number, number, DType]> = { 2: [5, 10, 'float16'], 4: [8, 23, 'float32'], 8: [11, 52, 'float64'] };
    const [e, m, name] = ieee[size] ?? [0, 0, undefined];
    const dtype = v.getUint8(13) === e && v.getUint8(15) === m ? name : undefined;
    return { itemBytes: size, typeClass: 1, ...(dtype ? { dtype } : {}) };
  }
  if (cls === 8) {
    // The base type's datatype message follows the 8-byte header.
    const base = new DataView(v.buffer, v.byteOffset + 8, v.byteLength - 8);
    const b = elementType(base);
    return b && b.typeClass === 0 && b.itemBytes === size ? { itemBytes: size, typeClass: 8 } : undefined;
  }
  return undefined;
}

/** Walks are remembered by host path, range and file identity, so that several users share one. */
const remembered = new Map<string, Hdf5LayoutIndex>();
const rememberedMax = 8;

/**
 * The datasets of the HDF5 file stored as bytes [start, start+size) of `hostPath` (the whole file
 * by default) whose values are plain bytes. Never throws: an unreadable or unusual file gives an
 * empty, incomplete index.
 */
export function locateRawDatasets(hostPath: string, range?: { start: number; size: number }): Hdf5LayoutIndex {
  let fd: number | undefined;
  try {
    fd = fs.openSync(hostPath, 'r');
    const st = fs.fstatSync(fd);
    const start = range?.start ?? 0;
    const size = range?.size ?? st.size;
    const key = `${hostPath}\u0000${start}\u0000${size}\u0000${st.size}\u0000${st.mtimeMs}\u0000${st.ino}`;
    const known = remembered.get(key);
    if (known) {
      return known;
    }
    const walker = new Walker(new Reader(fd, start, Math.min(size, st.size - start)));
    let index: Hdf5LayoutIndex;
    try {
      walker.walk();
      index = { datasets: walker.datasets, complete: walker.complete };
    } catch (ex) {
      if (!(ex instanceof Unsupported)) {
        throw ex;
      }
      index = { datasets: walker.datasets, complete: false };
    }
    remembered.set(key, index);
    if (remembered.size > rememberedMax) {
      remembered.delete(remembered.keys().next().value!);
    }
    return index;
  } catch {
    return { datasets: new Map(), complete: false };
  } finally {
    if (fd !== undefined) {
      fs.closeSync(fd);
    }
  }
}
