/**
 * A tiny FlatBuffers writer for tests: builds small TFLite models in memory (every TensorType,
 * the > 2 GB offset layout, several subgraphs) whose expected values are known by construction.
 * Layout is written front to back: a table's vtable first, then the table, then its children, so
 * every uoffset points forward as the format requires.
 */

/** A scalar field of a table. */
export type ScalarField = { id: number; kind: 'i8' | 'u8' | 'bool' | 'i32' | 'u32' | 'f32' | 'i64' | 'u64'; value: number | bigint };
/** A string field. */
export type StringField = { id: number; kind: 'string'; value: string };
/** A scalar vector field. */
export type VectorField = { id: number; kind: 'vec'; elem: 'u8' | 'u16' | 'i32' | 'f32' | 'i64'; value: ArrayLike<number> };
/** A sub-table field. */
export type TableField = { id: number; kind: 'table'; value: TableSpec };
/** A vector-of-tables field. */
export type TablesField = { id: number; kind: 'tables'; value: TableSpec[] };
/** Any field. */
export type Field = ScalarField | StringField | VectorField | TableField | TablesField;
/** A table: its fields (ids may be sparse; absent ids take the schema default). */
export type TableSpec = Field[];

const scalarBytes = { i8: 1, u8: 1, bool: 1, i32: 4, u32: 4, f32: 4, i64: 8, u64: 8 } as const;
const elemBytes = { u8: 1, u16: 2, i32: 4, f32: 4, i64: 8 } as const;

/** Serialises `root` as a FlatBuffer with a 4-character file identifier. */
export function writeFlatBuffer(root: TableSpec, identifier: string): Uint8Array {
  const out: number[] = [];
  const pad = (align: number): void => {
    while (out.length % align !== 0) {
      out.push(0);
    }
  };
  const put = (bytes: ArrayLike<number>): void => {
    for (let i = 0; i < bytes.length; i++) {
      out.push(bytes[i]!);
    }
  };
  const le = (kind: string, value: number | bigint): number[] => {
    const b = new DataView(new ArrayBuffer(8));
    switch (kind) {
      case 'i8':
        b.setInt8(0, Number(value));
        return [b.getUint8(0)];
      case 'u8':
      case 'bool':
        return [Number(value) & 0xff];
      case 'u16':
        b.setUint16(0, Number(value), true);
        return [...new Uint8Array(b.buffer, 0, 2)];
      case 'i32':
        b.setInt32(0, Number(value), true);
        return [...new Uint8Array(b.buffer, 0, 4)];
      case 'u32':
        b.setUint32(0, Number(value), true);
        return [...new Uint8Array(b.buffer, 0, 4)];
      case 'f32':
        b.setFloat32(0, Number(value), true);
        return [...new Uint8Array(b.buffer, 0, 4)];
      case 'i64':
        b.setBigInt64(0, BigInt(value), true);
        return [...new Uint8Array(b.buffer, 0, 8)];
      case 'u64':
        b.setBigUint64(0, BigInt(value), true);
        return [...new Uint8Array(b.buffer, 0, 8)];
      default:
        throw new Error(kind);
    }
  };
  const patch = (at: number, target: number): void => {
    const rel = le('u32', target - at);
    for (let i = 0; i < 4; i++) {
      out[at + i] = rel[i]!;
    }
  };

  const writeString = (s: string): number => {
    pad(4);
    const at = out.length;
    const bytes = new TextEncoder().encode(s);
    put(le('u32', bytes.length));
    put(bytes);
    out.push(0);
    return at;
  };
  const writeVector = (f: VectorField): number => {
    pad(elemBytes[f.elem] === 8 ? 8 : 4);
    if (elemBytes[f.elem] === 8) {
      out.push(0, 0, 0, 0); // so the elements after the count are 8-aligned
    }
    const at = out.length;
    put(le('u32', f.value.length));
    for (let i = 0; i < f.value.length; i++) {
      put(le(f.elem, f.value[i]!));
    }
    return at;
  };
  const writeTable = (spec: TableSpec): number => {
    const maxId = spec.reduce((m, f) => Math.max(m, f.id), -1);
    // table body layout: soffset, then fields in spec order
    const offsets = new Array<number>(maxId + 1).fill(0);
    let size = 4;
    for (const f of spec) {
      const n = f.kind === 'string' || f.kind === 'vec' || f.kind === 'table' || f.kind === 'tables' ? 4 : scalarBytes[f.kind];
      offsets[f.id] = size;
      size += n;
    }
    pad(4);
    const vtable = out.length;
    put(le('u16', 4 + 2 * (maxId + 1)));
    put(le('u16', size));
    for (const o of offsets) {
      put(le('u16', o));
    }
    pad(4);
    const table = out.length;
    put(le('i32', table - vtable));
    const refs: { at: number; f: Field }[] = [];
    for (const f of spec) {
      if (f.kind === 'string' || f.kind === 'vec' || f.kind === 'table' || f.kind === 'tables') {
        refs.push({ at: out.length, f });
        put([0, 0, 0, 0]);
      } else {
        put(le(f.kind, f.value));
      }
    }
    for (const { at, f } of refs) {
      if (f.kind === 'string') {
        patch(at, writeString(f.value));
      } else if (f.kind === 'vec') {
        patch(at, writeVector(f));
      } else if (f.kind === 'table') {
        patch(at, writeTable(f.value));
      } else if (f.kind === 'tables') {
        pad(4);
        const vec = out.length;
        put(le('u32', f.value.length));
        const slots = f.value.map(() => {
          const s = out.length;
          put([0, 0, 0, 0]);
          return s;
        });
        patch(at, vec);
        f.value.forEach((t, i) => patch(slots[i]!, writeTable(t)));
      }
    }
    return table;
  };

  put([0, 0, 0, 0]);
  put([...identifier].map((c) => c.charCodeAt(0)));
  const rootAt = writeTable(root);
  patch(0, rootAt);
  pad(4);
  return new Uint8Array(out);
}
