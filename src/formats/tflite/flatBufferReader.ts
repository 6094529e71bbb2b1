/**
 * A small, bounds-checked FlatBuffers reader over bytes in memory: tables through their vtables,
 * scalars, strings, scalar vectors and table vectors. Every offset and every `count * size` is
 * checked against the buffer before use, so a damaged file gives a WeightFileError, never an
 * out-of-range read or an allocation sized by an unchecked header value.
 *
 * Encoding: https://flatbuffers.dev/internals/ (notes/weight-formats.md section 7.1).
 */
import { WeightFileError } from '../../core/errors';

/** Largest number of elements a vector may claim before it is rejected as absurd (far beyond any model). */
export const maxVectorElements = 1 << 28;

/** A FlatBuffer in memory, with the file name used in error messages. */
export class FlatBufferReader {
  private readonly view: DataView;

  constructor(
    /** Display name of the file, for messages. */
    readonly name: string,
    /** The FlatBuffer bytes (the whole file, or its first bytes when `fileSize` is larger). */
    readonly bytes: Uint8Array,
    /**
     * Size of the whole file when `bytes` is only its beginning: a reference past `bytes` but
     * inside the file is then `tooLarge` (not decoded that far), not `truncated`.
     */
    readonly fileSize: number = bytes.byteLength,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The error for a reference to byte `pos` (needing up to `end`) beyond the decoded bytes. */
  private beyondEnd(message: string, pos: number, end: number): WeightFileError {
    if (end <= this.fileSize && this.fileSize > this.size) {
      return new WeightFileError(
        'tooLarge',
        `${this.name}: the model tables reach byte ${end}, beyond the first ${this.size} bytes decoded for a ${this.fileSize}-byte file; only files whose tables come first (the > 2 GB buffer layout) are read past the in-memory limit.`,
        { file: this.name, offset: pos },
      );
    }
    return new WeightFileError('truncated', `${this.name}: ${message}`, { file: this.name, offset: pos });
  }

  /** Size of the buffer in bytes. */
  get size(): number {
    return this.bytes.byteLength;
  }

  /** The root table: `uint32 root_offset` at byte 0. */
  root(): FlatTable {
    this.need(0, 8, 'the root offset and file identifier');
    return this.tableAt(this.uint32At(0, 'the offset to the root table'), 'root table', 0);
  }

  /** The 4-character file identifier at bytes 4..7 (Latin-1). */
  identifier(): string {
    this.need(0, 8, 'the file identifier');
    return String.fromCharCode(...this.bytes.subarray(4, 8));
  }

  /** A table at absolute position `pos` (reached from `from`, for messages). */
  tableAt(pos: number, what: string, from: number): FlatTable {
    this.pointsInside(pos, 4, what, from);
    const vtable = pos - this.view.getInt32(pos, true);
    this.pointsInside(vtable, 4, `vtable of the ${what}`, pos);
    const vtableBytes = this.view.getUint16(vtable, true);
    if (vtableBytes < 4 || vtableBytes % 2 !== 0) {
      throw this.corrupt(`the vtable of the ${what} at byte ${vtable} has an invalid size ${vtableBytes}`, vtable);
    }
    this.pointsInside(vtable, vtableBytes, `vtable of the ${what}`, pos);
    return new FlatTable(this, pos, vtable, (vtableBytes - 4) >> 1, what);
  }

  /** uint32 at an absolute position (bounds-checked). */
  uint32At(pos: number, what = 'a 32-bit value'): number {
    this.need(pos, 4, what);
    return this.view.getUint32(pos, true);
  }

  /** Reads a scalar of the given kind at an absolute position (bounds-checked); `what` names it in errors. */
  scalarAt(pos: number, kind: ScalarKind, what = `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} value`): number {
    this.need(pos, scalarSize[kind], what);
    const v = this.view;
    switch (kind) {
      case 'int8':
        return v.getInt8(pos);
      case 'uint8':
        return v.getUint8(pos);
      case 'int16':
        return v.getInt16(pos, true);
      case 'uint16':
        return v.getUint16(pos, true);
      case 'int32':
        return v.getInt32(pos, true);
      case 'uint32':
        return v.getUint32(pos, true);
      case 'float32':
        return v.getFloat32(pos, true);
      case 'int64':
        return this.safeNumber(v.getBigInt64(pos, true), pos);
      case 'uint64':
        return this.safeNumber(v.getBigUint64(pos, true), pos);
    }
  }

  /** Follows the uoffset stored at `pos` (target = pos + value). */
  follow(pos: number, what: string): number {
    const target = pos + this.uint32At(pos, `the offset to the ${what}`);
    this.pointsInside(target, 4, what, pos);
    return target;
  }

  /** A vector's element start and count, from the uoffset at `pos`; checks count * elementSize. */
  vectorAt(pos: number, elementSize: number, what: string): { start: number; length: number } {
    const target = this.follow(pos, what);
    const length = this.uint32At(target, `the length of the ${what}`);
    const start = target + 4;
    if (length > maxVectorElements || length * elementSize > this.fileSize) {
      throw this.corrupt(`the ${what} at byte ${target} claims ${length} elements, more than the whole file (${this.fileSize} bytes) can hold`, target);
    }
    if (start + length * elementSize > this.size) {
      throw this.beyondEnd(
        `the ${what} at byte ${target} needs ${length * elementSize} bytes but the file ends at byte ${this.size}; the file might be truncated.`,
        target,
        start + length * elementSize,
      );
    }
    return { start, length };
  }

  /** A UTF-8 string from the uoffset at `pos`. */
  stringAt(pos: number, what: string): string {
    const { start, length } = this.vectorAt(pos, 1, what);
    return utf8.decode(this.bytes.subarray(start, start + length));
  }

  /** A corrupt-file error naming this file and a position. */
  corrupt(message: string, offset: number): WeightFileError {
    return new WeightFileError('corrupt', `${this.name}: ${message}.`, { file: this.name, offset });
  }

  private safeNumber(v: bigint, pos: number): number {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw this.corrupt(`the 64-bit value ${v} at byte ${pos} is too large`, pos);
    }
    return Number(v);
  }

  /**
   * Checks a referenced position: before the start (only a signed vtable offset can do that) is
   * `corrupt`; past the end is `truncated`, the usual cause being a file cut short (a TFLite
   * FlatBuffer keeps its tables at the end, after the weights).
   */
  private pointsInside(pos: number, length: number, what: string, from: number): void {
    if (!Number.isSafeInteger(pos) || pos < 0) {
      throw this.corrupt(`the offset to the ${what} at byte ${from} points to byte ${pos}, before the start of the file`, from);
    }
    if (pos >= this.size) {
      throw this.beyondEnd(
        `the offset to the ${what} at byte ${from} points to byte ${pos}, past the end of the file (${this.size} bytes); the file is truncated or damaged.`,
        from,
        pos + length,
      );
    }
    this.need(pos, length, `the ${what}`);
  }

  /** Throws `truncated` when [pos, pos+length) does not fit. */
  private need(pos: number, length: number, what: string): void {
    if (pos < 0 || pos + length > this.size) {
      throw this.beyondEnd(`${what} at byte ${pos} needs ${length} bytes but the file ends at byte ${this.size}; the file might be truncated.`, pos, pos + length);
    }
  }
}

/** Scalar kinds a table field or vector element may have. */
export type ScalarKind = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'int64' | 'uint64';

/** Bytes per scalar kind. */
export const scalarSize: Readonly<Record<ScalarKind, number>> = {
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  int64: 8,
  uint64: 8,
};

const utf8 = new TextDecoder('utf-8');

/** One table: fields by id, absent fields give the schema default. */
export class FlatTable {
  constructor(
    /** The buffer holding the table. */
    readonly fb: FlatBufferReader,
    /** Absolute position of the table. */
    readonly pos: number,
    private readonly vtable: number,
    private readonly fieldCount: number,
    /** What the table is (for messages), e.g. 'Tensor 3'. */
    readonly what: string,
  ) {}

  /** Absolute position of field `id`, or undefined when absent. */
  fieldPos(id: number): number | undefined {
    if (id >= this.fieldCount) {
      return undefined;
    }
    const rel = this.fb.scalarAt(this.vtable + 4 + 2 * id, 'uint16', `the vtable entry of field ${id} of the ${this.what}`);
    return rel === 0 ? undefined : this.pos + rel;
  }

  /** True when field `id` is present. */
  has(id: number): boolean {
    return this.fieldPos(id) !== undefined;
  }

  /** A scalar field, or `defaultValue` when absent. */
  scalar(id: number, kind: ScalarKind, defaultValue = 0): number {
    const p = this.fieldPos(id);
    return p === undefined ? defaultValue : this.fb.scalarAt(p, kind, `the ${kind} field ${id} of the ${this.what}`);
  }

  /** A bool field. */
  bool(id: number, defaultValue = false): boolean {
    const p = this.fieldPos(id);
    return p === undefined ? defaultValue : this.fb.scalarAt(p, 'uint8', `the bool field ${id} of the ${this.what}`) !== 0;
  }

  /** A string field, or undefined when absent. */
  string(id: number, name: string): string | undefined {
    const p = this.fieldPos(id);
    return p === undefined ? undefined : this.fb.stringAt(p, `${this.what}.${name}`);
  }

  /** A sub-table field, or undefined when absent. */
  table(id: number, name: string): FlatTable | undefined {
    const p = this.fieldPos(id);
    return p === undefined ? undefined : this.fb.tableAt(this.fb.follow(p, `${this.what}.${name}`), `${this.what}.${name}`, p);
  }

  /** Start and element count of a vector field; undefined when absent. */
  vector(id: number, elementSize: number, name: string): { start: number; length: number } | undefined {
    const p = this.fieldPos(id);
    return p === undefined ? undefined : this.fb.vectorAt(p, elementSize, `${this.what}.${name}`);
  }

  /** A scalar vector field as numbers; undefined when absent. */
  numbers(id: number, kind: ScalarKind, name: string): number[] | undefined {
    const v = this.vector(id, scalarSize[kind], name);
    if (!v) {
      return undefined;
    }
    const out = new Array<number>(v.length);
    const size = scalarSize[kind];
    for (let i = 0; i < v.length; i++) {
      out[i] = this.fb.scalarAt(v.start + i * size, kind);
    }
    return out;
  }

  /** Number of elements of a table-vector field (0 when absent). */
  tableCount(id: number, name: string): number {
    return this.vector(id, 4, name)?.length ?? 0;
  }

  /** Element `i` of a table-vector field (each element is a uoffset relative to itself). */
  tableAt(id: number, i: number, name: string): FlatTable {
    const v = this.vector(id, 4, name);
    if (!v || i < 0 || i >= v.length) {
      throw this.fb.corrupt(`${this.what}.${name} has no element ${i}`, this.pos);
    }
    const p = v.start + 4 * i;
    return this.fb.tableAt(this.fb.follow(p, `${name}[${i}]`), `${name}[${i}]`, p);
  }

  /** All elements of a table-vector field. */
  tables(id: number, name: string): FlatTable[] {
    const n = this.tableCount(id, name);
    const out: FlatTable[] = [];
    for (let i = 0; i < n; i++) {
      out.push(this.tableAt(id, i, name));
    }
    return out;
  }

  /** A union value: the table of the member given by the `typeId` field, with that type (0 = NONE). */
  union(typeId: number, valueId: number, name: string): { type: number; table?: FlatTable } {
    const type = this.scalar(typeId, 'uint8');
    if (type === 0) {
      return { type };
    }
    return { type, table: this.table(valueId, name) };
  }
}
