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
 * damage or an unknown structure only makes the index incomplete (except that readHdf5Tree refuses,
 * with Hdf5Damage, a global heap collection the HDF5 library would loop on). Reads are bounded (metadata bytes,
 * objects, block sizes), so a hostile header cannot make it allocate or loop.
 *
 * Two walks: locateRawDatasets (tolerant: whatever can be located, used to read values with plain
 * file reads, hdf5.ts cross-checking each location against the library, and by worker threads that
 * then need no HDF5 library at all), and readHdf5Tree (strict: the whole file, attributes included,
 * or nothing), which lets hdf5.ts serve the usual Keras files without loading the HDF5 library.
 */
import * as fs from 'node:fs';
import type { DType } from '../core/dtypes';
import { openRegularFileSync } from '../core/nodeFileSource';

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
  /** Element type as the HDF5 type alone says (IEEE floats, integers); undefined for enums. Readers may refine it (Keras bfloat16). */
  dtype?: DType;
}

/** The datasets of one HDF5 file that can be read as plain bytes. */
export interface Hdf5LayoutIndex {
  /** Located datasets by absolute path (a dataset reachable by two paths is listed under both). */
  datasets: ReadonlyMap<string, Hdf5RawDataset>;
  /**
   * By absolute path, each dataset whose values can only come from this file (no external files,
   * no virtual layout, no filters beyond those below) with the most its stored bytes can expand
   * to: 1 without filters; see filterExpansion. Values declared beyond `fileBytes` times that were
   * never written: they read as the fill value.
   */
  expansion: ReadonlyMap<string, number>;
  /** Size of the HDF5 file in bytes. */
  fileBytes: number;
  /** True when every dataset of the file was located and every group could be listed. */
  complete: boolean;
  /**
   * By absolute path, each dataset stored as plain bytes whose stored values run past the end of a
   * truncated file (not in `datasets`: its values cannot be read).
   */
  cut: ReadonlyMap<string, Hdf5RawDataset>;
}

/** A file shorter than its superblock says (see hdf5Truncation). */
export interface Hdf5Truncation {
  /** Size the superblock's end-of-file address gives the HDF5 file, in bytes. */
  expectedBytes: number;
  /** Bytes the file actually has. */
  presentBytes: number;
}

/** The HDF5 format signature, the first 8 bytes of a superblock. */
export const hdf5Signature = Uint8Array.of(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a);

/**
 * Offsets where the HDF5 library looks for the superblock of a file of `size` bytes (H5FD_locate_signature):
 * 0, then every user-block size 512, 1024, 2048, ... at which a signature still fits.
 */
export function superblockOffsets(size: number): number[] {
  const out = [0];
  for (let at = 512; at + hdf5Signature.length <= size; at *= 2) {
    out.push(at);
  }
  return out;
}

/** Bytes from a superblock's start that hold its fields (the largest, version 0 with 8-byte addresses, takes 96). */
export const superblockBytes = 128;

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

/**
 * How many times its stored size a filter can make a chunk: deflate at most 1032 (a 258-byte
 * match in 2 bits), which also bounds LZF (at most 264 bytes from a 3-byte token); shuffle and
 * Fletcher-32 add nothing. Other filters (scale-offset, szip, plugins) have no bound here.
 */
const filterExpansion: ReadonlyMap<number, number> = new Map([
  [1, 1032], // deflate
  [2, 1], // shuffle
  [3, 1], // Fletcher-32
  [32000, 1032], // LZF
]);

/** Thrown inside the walk when the file is not what the walk understands; caught at the top. */
class Unsupported extends Error {}

/**
 * Damage the HDF5 library does not survive: it loops forever on it (e.g. a global heap object
 * whose size runs past its collection). readHdf5Tree throws it, so the file is refused instead
 * of being handed to the library.
 */
export class Hdf5Damage extends Error {}

const undefinedAddress = -1;

/** Synchronous bounded reads of the HDF5 bytes [start, start+size) of a host file. */
class Reader {
  private read = 0;
  constructor(
    /** Reads like fs.readSync into `buf` from absolute `position` (host-file offset); returns the bytes read. */
    private readonly readAt: (buf: Buffer, offset: number, length: number, position: number) => number,
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
      const n = this.readAt(buf, done, length - done, this.start + at + done);
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
  attribute: 0x0c,
  attributeInfo: 0x15,
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

/** One object of a fully read file (readHdf5Tree). */
export interface Hdf5TreeNode {
  kind: 'group' | 'dataset' | 'other';
  /** Group members by name, in HDF5 name order (byte order of the UTF-8 names). */
  children?: Map<string, Hdf5TreeNode>;
  /** Attributes in HDF5 name order, each decoded the way h5wasm's json_value decodes it. */
  attributes: Map<string, unknown>;
  /** Datasets: shape, element type and where the values lie. */
  dataset?: {
    shape: number[];
    /** HDF5 type class (0 integer, 1 float, 3 string) and element size. */
    typeClass: number;
    itemBytes: number;
    signed: boolean;
    /** Where the values lie; undefined only for a dataset without elements or with `cut`. */
    located?: Hdf5RawDataset;
    /** Where the values were stored when they run past the end of a truncated file (then no `located`). */
    cut?: Hdf5RawDataset;
    /** The file's size and how far the dataset's stored bytes can expand (see Hdf5LayoutIndex.expansion). */
    storage?: { fileBytes: number; expansion: number };
  };
}

class Walker {
  private readonly offsetSize: number;
  private readonly lengthSize: number;
  /** HDF5-file offset that addresses are relative to (the superblock's position). */
  private readonly base: number;
  private readonly rootAddress: number;
  /**
   * Size the HDF5 file should have: the superblock's end-of-file address, moved by the distance
   * between where the superblock is and the base address it records, as the HDF5 library does
   * (H5F__super_read); undefined when the address is undefined.
   */
  readonly expectedBytes: number | undefined;
  private objects = 0;
  complete = true;
  readonly datasets = new Map<string, Hdf5RawDataset>();
  readonly cut = new Map<string, Hdf5RawDataset>();
  readonly expansion = new Map<string, number>();
  private readonly visitedGroups = new Set<number>();
  private readonly datasetCache = new Map<number, Omit<Hdf5RawDataset, 'path'> | null>();
  /** Strict walks (readHdf5Tree): every object by header address; anything not understood throws. */
  readonly nodes = new Map<number, Hdf5TreeNode>();
  private readonly globalHeaps = new Map<number, Map<number, Uint8Array>>();

  constructor(
    private readonly r: Reader,
    private readonly strict = false,
  ) {
    let sb = -1;
    for (const at of superblockOffsets(r.size)) {
      if (isSignature(r.bytes(at, 8))) {
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
      this.expectedBytes = endOfFile(sb, uint(head, fixed, this.offsetSize), uint(head, fixed + 2 * this.offsetSize, this.offsetSize));
    } else if (version === 2 || version === 3) {
      this.offsetSize = head.getUint8(9);
      this.lengthSize = head.getUint8(10);
      checkWidths(this.offsetSize, this.lengthSize);
      // signature 8, version, sizes 2, flags 1; base, extension, EOF, root object header addresses.
      this.rootAddress = uint(head, 12 + 3 * this.offsetSize, this.offsetSize);
      this.expectedBytes = endOfFile(sb, uint(head, 12, this.offsetSize), uint(head, 12 + 2 * this.offsetSize, this.offsetSize));
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

  /** The root group's node of a strict walk. */
  get root(): Hdf5TreeNode | undefined {
    return this.nodes.get(this.rootAddress);
  }

  /** Notes that part of the file is left out; a strict walk stops instead. */
  private incomplete(why: string): void {
    if (this.strict) {
      throw new Unsupported(why);
    }
    this.complete = false;
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
      this.incomplete('groups nested too deeply');
      return;
    }
    let members: Array<{ name: string; address: number }>;
    let groupMessages: Message[];
    try {
      groupMessages = this.messages(address);
      members = this.members(groupMessages);
    } catch (ex) {
      if (ex instanceof Unsupported && !this.strict) {
        this.complete = false;
        return;
      }
      throw ex;
    }
    const node: Hdf5TreeNode | undefined = this.strict ? { kind: 'group', children: new Map(), attributes: this.attributes(groupMessages) } : undefined;
    if (node) {
      this.nodes.set(address, node);
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
        if (ex instanceof Unsupported && !this.strict) {
          this.complete = false;
          continue;
        }
        throw ex;
      }
      if (messages.some((x) => x.type === msg.layout)) {
        const expansion = storedExpansion(messages);
        if (expansion !== undefined) {
          this.expansion.set(childPath, expansion);
        }
        const found = this.dataset(m.address, messages);
        // Values stored past the end of a truncated file are not located: they cannot be read.
        const cut = found && found.offset + found.byteLength > this.r.start + this.r.size ? { path: childPath, ...found } : undefined;
        const located = cut ? null : found;
        if (located) {
          this.datasets.set(childPath, { path: childPath, ...located });
        }
        if (cut) {
          this.cut.set(childPath, cut);
        }
        if (node) {
          this.nodes.set(m.address, this.datasetNode(messages, located ? { path: childPath, ...located } : undefined, expansion, cut));
        } else if (!located) {
          this.complete = false;
        }
      } else if (messages.some((x) => x.type === msg.symbolTable || x.type === msg.linkInfo || x.type === msg.link || x.type === msg.groupInfo)) {
        this.group(m.address, childPath, depth + 1);
      } else if (node && !this.nodes.has(m.address)) {
        this.nodes.set(m.address, { kind: 'other', attributes: this.attributes(messages) });
      }
    }
    if (node) {
      // Children are linked after the walk (a hard link may name a group not yet visited).
      this.childLinks.set(node, members);
    }
  }

  /** Group members of a strict walk, linked into `children` by linkChildren. */
  private readonly childLinks = new Map<Hdf5TreeNode, Array<{ name: string; address: number }>>();

  /** Fills every group's `children` in name order once every object is known. */
  linkChildren(): void {
    for (const [node, members] of this.childLinks) {
      const sorted = [...members].sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));
      for (const m of sorted) {
        const child = this.nodes.get(m.address);
        if (!child || node.children!.has(m.name)) {
          throw new Unsupported(`member '${m.name}' not read`);
        }
        node.children!.set(m.name, child);
      }
    }
  }

  /** The node of a dataset in a strict walk: readable element types only, values located (or cut off) unless there are none. */
  private datasetNode(messages: Message[], located: Hdf5RawDataset | undefined, expansion: number | undefined, cut: Hdf5RawDataset | undefined): Hdf5TreeNode {
    const space = messages.find((x) => x.type === msg.dataspace);
    const type = messages.find((x) => x.type === msg.datatype);
    if (!space || !type || type.flags & 0x02 || space.flags & 0x02) {
      throw new Unsupported('dataset without its own dataspace and datatype');
    }
    const shape = this.shape(space.body);
    if (!shape) {
      throw new Unsupported('null dataspace');
    }
    const typeClass = type.body.getUint8(0) & 0x0f;
    const itemBytes = type.body.getUint32(4, true);
    if (typeClass !== 0 && typeClass !== 1) {
      throw new Unsupported(`dataset type class ${typeClass}`);
    }
    if (!located && !cut && shape.reduce((a, b) => a * b, 1) > 0) {
      throw new Unsupported('dataset values not plain bytes');
    }
    return {
      kind: 'dataset',
      attributes: this.attributes(messages),
      dataset: {
        shape,
        typeClass,
        itemBytes,
        signed: typeClass === 0 && (type.body.getUint8(1) & 0x08) !== 0,
        ...(located ? { located } : {}),
        ...(cut ? { cut } : {}),
        ...(expansion !== undefined ? { storage: { fileBytes: this.r.size, expansion } } : {}),
      },
    };
  }

  /** Attributes of an object (strict walks), in name order, decoded like h5wasm's json_value. */
  private attributes(messages: Message[]): Map<string, unknown> {
    const out = new Map<string, unknown>();
    if (!this.strict) {
      return out;
    }
    const info = messages.find((x) => x.type === msg.attributeInfo);
    if (info) {
      const flags = info.body.getUint8(1);
      if (uint(info.body, 2 + (flags & 1 ? 2 : 0), this.offsetSize) !== undefinedAddress) {
        throw new Unsupported('dense attribute storage');
      }
    }
    const list: Array<[string, unknown]> = [];
    for (const m of messages.filter((x) => x.type === msg.attribute)) {
      list.push(this.attribute(m.body));
    }
    list.sort((a, b) => Buffer.compare(Buffer.from(a[0], 'utf8'), Buffer.from(b[0], 'utf8')));
    for (const [name, value] of list) {
      out.set(name, value);
    }
    return out;
  }

  /** One attribute message (versions 1-3): its name and value. */
  private attribute(v: DataView): [string, unknown] {
    const version = v.getUint8(0);
    if (version < 1 || version > 3 || (version > 1 && v.getUint8(1) & 0x03)) {
      throw new Unsupported('attribute version or shared parts');
    }
    const nameSize = v.getUint16(2, true);
    const typeSize = v.getUint16(4, true);
    const spaceSize = v.getUint16(6, true);
    const pad = (n: number): number => (version === 1 ? Math.ceil(n / 8) * 8 : n);
    let at = version === 3 ? 9 : 8;
    const nameBytes = new Uint8Array(v.buffer, v.byteOffset + at, nameSize);
    const nul = nameBytes.indexOf(0);
    const name = Buffer.from(nameBytes.subarray(0, nul < 0 ? nameSize : nul)).toString('utf8');
    at += pad(nameSize);
    const type = new DataView(v.buffer, v.byteOffset + at, typeSize);
    at += pad(typeSize);
    const space = new DataView(v.buffer, v.byteOffset + at, spaceSize);
    at += pad(spaceSize);
    const shape = this.shape(space);
    if (!shape) {
      return [name, null]; // null dataspace: h5wasm's json_value is null
    }
    const count = shape.reduce((a, b) => a * b, 1);
    const cls = type.getUint8(0) & 0x0f;
    const size = type.getUint32(4, true);
    if (!Number.isSafeInteger(count * size) || count * size > limits.blockBytes) {
      throw new Unsupported('attribute too large');
    }
    const data = new DataView(v.buffer, v.byteOffset + at, Math.min(v.byteLength - at, cls === 9 ? count * (8 + this.offsetSize) : count * size));
    const values: unknown[] = [];
    if (cls === 0 || cls === 1) {
      const bits0 = type.getUint8(1);
      const signed = cls === 0 && (bits0 & 0x08) !== 0;
      if ((size > 1 && bits0 & 0x01) || (cls === 1 && bits0 & 0x40) || ![1, 2, 4, 8].includes(size) || (cls === 1 && size < 4)) {
        throw new Unsupported('attribute number type');
      }
      if (data.byteLength < count * size) {
        throw new Unsupported('attribute data short');
      }
      for (let i = 0; i < count; i++) {
        const o = i * size;
        if (cls === 1) {
          values.push(size === 4 ? data.getFloat32(o, true) : data.getFloat64(o, true));
        } else if (size === 8) {
          values.push(Number(signed ? data.getBigInt64(o, true) : data.getBigUint64(o, true)));
        } else {
          values.push(size === 4 ? (signed ? data.getInt32(o, true) : data.getUint32(o, true)) : size === 2 ? (signed ? data.getInt16(o, true) : data.getUint16(o, true)) : signed ? data.getInt8(o) : data.getUint8(o));
        }
      }
    } else if (cls === 3) {
      const cset = (type.getUint8(1) >> 4) & 0x0f;
      const decoder = new TextDecoder(cset === 1 ? 'utf-8' : 'ascii');
      if (data.byteLength < count * size) {
        throw new Unsupported('attribute data short');
      }
      for (let i = 0; i < count; i++) {
        let bytes = new Uint8Array(data.buffer, data.byteOffset + i * size, size);
        const zero = bytes.indexOf(0);
        if (zero >= 0) {
          bytes = bytes.subarray(0, zero);
        }
        values.push(decoder.decode(bytes));
      }
    } else if (cls === 9) {
      const bits0 = type.getUint8(1);
      if ((bits0 & 0x0f) !== 1) {
        throw new Unsupported('variable-length sequence attribute');
      }
      const cset = type.getUint8(2) & 0x0f;
      const element = 4 + this.offsetSize + 4;
      if (data.byteLength < count * element) {
        throw new Unsupported('attribute data short');
      }
      for (let i = 0; i < count; i++) {
        const o = i * element;
        const length = data.getUint32(o, true);
        const collection = uint(data, o + 4, this.offsetSize);
        const index = data.getUint32(o + 4 + this.offsetSize, true);
        let bytes = length === 0 ? new Uint8Array(0) : this.heapObject(collection, index);
        if (bytes.byteLength < length) {
          throw new Unsupported('global heap object short');
        }
        bytes = bytes.subarray(0, length);
        const zero = bytes.indexOf(0);
        if (zero >= 0) {
          bytes = bytes.subarray(0, zero);
        }
        values.push(cset === 1 ? Buffer.from(bytes).toString('utf8') : Buffer.from(bytes).toString('latin1'));
      }
    } else {
      throw new Unsupported(`attribute type class ${cls}`);
    }
    return [name, shape.length === 0 ? values[0] : values];
  }

  /** One object of a global heap collection (variable-length data). */
  private heapObject(collection: number, index: number): Uint8Array {
    let objects = this.globalHeaps.get(collection);
    if (!objects) {
      const l = this.lengthSize;
      const head = this.r.bytes(this.abs(collection), 8 + l);
      if (!ascii(head, 0, 'GCOL') || head.getUint8(4) !== 1) {
        throw new Unsupported('global heap signature');
      }
      const size = uint(head, 8, l);
      if (size < 8 + l) {
        throw new Hdf5Damage(`its global heap collection at byte ${collection} claims ${size} bytes, less than its own header`);
      }
      const all = this.r.bytes(this.abs(collection), size);
      objects = new Map();
      for (let at = 8 + l; at + 8 + l <= size; ) {
        const id = all.getUint16(at, true);
        const objectSize = uint(all, at + 8, l);
        if (id === 0) {
          // The free space object spans the rest of the collection, its header included: an object
          // size that disagrees means the objects before it do not tile the collection.
          if (objectSize !== size - at) {
            throw new Hdf5Damage(`its global heap collection at byte ${collection} does not add up (free space of ${objectSize} bytes at byte ${at} of ${size})`);
          }
          break;
        }
        const start = at + 8 + l;
        if (start + objectSize > size) {
          throw new Hdf5Damage(`object ${id} of its global heap collection at byte ${collection} claims ${objectSize} bytes, past the collection's end`);
        }
        if (objects.has(id)) {
          throw new Hdf5Damage(`its global heap collection at byte ${collection} holds object ${id} twice`);
        }
        objects.set(id, new Uint8Array(all.buffer, all.byteOffset + start, objectSize));
        at = start + Math.ceil(objectSize / 8) * 8;
      }
      this.globalHeaps.set(collection, objects);
    }
    const found = objects.get(index);
    if (!found) {
      throw new Unsupported('global heap object missing');
    }
    return found;
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
        this.incomplete('soft link');
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
    return { offset: this.r.start + offset, byteLength, itemBytes: element.itemBytes, shape, ...(element.dtype ? { dtype: element.dtype } : {}) };
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
  return hdf5Signature.every((b, i) => v.getUint8(i) === b);
}

/**
 * Size the HDF5 file should have (H5F__super_read): the stored end-of-file address is absolute, so
 * when the superblock lies elsewhere than its recorded base address (bytes put before the file) it
 * moves with it. Undefined when either address is undefined.
 */
function endOfFile(superblockAt: number, baseAddress: number, eofAddress: number): number | undefined {
  if (baseAddress === undefinedAddress || eofAddress === undefinedAddress) {
    return undefined;
  }
  return eofAddress - baseAddress + superblockAt;
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

/**
 * The most a dataset's stored bytes can expand to, as a multiple (see filterExpansion), when its
 * values can only come from the file; undefined for external storage, virtual layouts, filters
 * without a known bound and anything not understood.
 */
function storedExpansion(messages: Message[]): number | undefined {
  const find = (type: number): Message | undefined => messages.find((x) => x.type === type);
  const layout = find(msg.layout);
  if (!layout || find(msg.external)) {
    return undefined;
  }
  try {
    const v = layout.body;
    const version = v.getUint8(0);
    // layout class: 0 compact, 1 contiguous, 2 chunked (3 virtual: values in other files); version 5
    // (HDF5 2.0) differs from 4 only in how filtered chunks are indexed
    const layoutClass = version >= 3 && version <= 5 ? v.getUint8(1) : version === 1 || version === 2 ? v.getUint8(2) : 3;
    if (layoutClass > 2) {
      return undefined;
    }
    const pipeline = find(msg.filters);
    let expansion = 1;
    for (const id of pipeline ? filterIds(pipeline.body) : []) {
      const f = filterExpansion.get(id);
      if (f === undefined) {
        return undefined;
      }
      expansion *= f;
    }
    return expansion;
  } catch {
    return undefined; // a message shorter than its fields
  }
}

/** The filter ids of a filter pipeline message (version 1 or 2); throws RangeError past its end. */
function filterIds(v: DataView): number[] {
  const version = v.getUint8(0);
  const count = v.getUint8(1);
  if (version !== 1 && version !== 2) {
    throw new RangeError(`filter pipeline version ${version}`);
  }
  const ids: number[] = [];
  let at = version === 1 ? 8 : 2;
  for (let i = 0; i < count; i++) {
    const id = v.getUint16(at, true);
    ids.push(id);
    if (version === 1) {
      // id, name length (padded to 8), flags, value count; name; values (4 bytes each, padded to 8)
      const nameLength = v.getUint16(at + 2, true);
      const values = v.getUint16(at + 6, true);
      at += 8 + nameLength + 4 * values + (values % 2) * 4;
    } else {
      // id, name length (only for ids >= 256), flags, value count; name; values (4 bytes each)
      const named = id >= 256;
      const nameLength = named ? v.getUint16(at + 2, true) : 0;
      const values = v.getUint16(at + (named ? 6 : 4), true);
      at += (named ? 8 : 6) + nameLength + 4 * values;
    }
  }
  if (at > v.byteLength) {
    throw new RangeError('filter pipeline past its message');
  }
  return ids;
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
  const none: Hdf5LayoutIndex = { datasets: new Map(), expansion: new Map(), fileBytes: 0, complete: false, cut: new Map() };
  return withHostFile(hostPath, range, none, (reader, identity) => {
    const known = remembered.get(identity);
    if (known) {
      return known;
    }
    const walker = new Walker(reader);
    let index: Hdf5LayoutIndex;
    try {
      walker.walk();
      index = { datasets: walker.datasets, expansion: walker.expansion, fileBytes: reader.size, complete: walker.complete, cut: walker.cut };
    } catch (ex) {
      if (!(ex instanceof Unsupported)) {
        throw ex;
      }
      index = { datasets: walker.datasets, expansion: walker.expansion, fileBytes: reader.size, complete: false, cut: walker.cut };
    }
    remembered.set(identity, index);
    if (remembered.size > rememberedMax) {
      remembered.delete(remembered.keys().next().value!);
    }
    return index;
  });
}

/**
 * Every group, dataset and attribute of the HDF5 file stored as bytes [start, start+size) of
 * `hostPath` (the whole file by default), read in TypeScript, or undefined when the file holds
 * anything this reader does not fully understand (then the HDF5 library must read it): soft or
 * external links, dense link or attribute storage, datasets whose values are not plain bytes,
 * shared datatypes, attribute types other than numbers and strings. Throws only Hdf5Damage.
 */
export function readHdf5Tree(hostPath: string, range?: { start: number; size: number }): Hdf5TreeNode | undefined {
  return withHostFile(hostPath, range, undefined, (reader) => {
    const walker = new Walker(reader, true);
    walker.walk();
    walker.linkChildren();
    return walker.root;
  });
}

/**
 * How much of the HDF5 file stored as bytes [start, start+size) of `hostPath` (the whole file by
 * default) is missing: undefined when the file is at least as long as its superblock's end-of-file
 * address says (extra bytes after it are allowed, as the HDF5 library allows them), or when no
 * superblock can be read. The HDF5 library refuses a shorter file ("truncated file").
 */
export function hdf5Truncation(hostPath: string, range?: { start: number; size: number }): Hdf5Truncation | undefined {
  return withHostFile(hostPath, range, undefined, (reader) => {
    const expected = new Walker(reader).expectedBytes;
    return expected !== undefined && reader.size < expected ? { expectedBytes: expected, presentBytes: reader.size } : undefined;
  });
}

/**
 * The size the superblock of an HDF5 file of `size` bytes records (its end-of-file address), from
 * the superblock's bytes `block` (superblockBytes of them, fewer at the end of the file) found at
 * offset `at`; undefined when `block` holds no superblock understood here.
 */
export function hdf5RecordedBytes(block: Uint8Array, at: number, size: number): number | undefined {
  // Bytes outside the block read as zeros: no signature there, so the walk settles on `at`.
  const readAt = (buf: Buffer, offset: number, length: number, position: number): number => {
    buf.fill(0, offset, offset + length);
    const from = Math.max(position, at);
    const to = Math.min(position + length, at + block.length);
    if (from < to) {
      buf.set(block.subarray(from - at, to - at), offset + from - position);
    }
    return length;
  };
  try {
    return new Walker(new Reader(readAt, 0, size)).expectedBytes;
  } catch {
    return undefined;
  }
}

/**
 * Runs `fn` with a Reader over the HDF5 bytes [start, start+size) of a host file and a key naming
 * those bytes (path, range, size, mtime, inode); any failure gives `fallback`. The file is closed after.
 */
function withHostFile<T>(hostPath: string, range: { start: number; size: number } | undefined, fallback: T, fn: (reader: Reader, identity: string) => T): T {
  let fd: number | undefined;
  try {
    fd = openRegularFileSync(hostPath);
    const st = fs.fstatSync(fd);
    const start = range?.start ?? 0;
    const size = range?.size ?? st.size;
    const identity = `${hostPath}\u0000${start}\u0000${size}\u0000${st.size}\u0000${st.mtimeMs}\u0000${st.ino}`;
    const file = fd;
    return fn(new Reader((buf, offset, length, position) => fs.readSync(file, buf, offset, length, position), start, Math.min(size, st.size - start)), identity);
  } catch (ex) {
    if (ex instanceof Hdf5Damage) {
      throw ex;
    }
    return fallback;
  } finally {
    if (fd !== undefined) {
      fs.closeSync(fd);
    }
  }
}
