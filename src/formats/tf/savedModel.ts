/**
 * The parts of `saved_model.pb` Weightscope shows: MetaInfoDef (versions, tags), serving
 * signatures, and the SavedObjectGraph's Keras metadata and variable names
 * (notes/weight-formats.md section 1.4; tensorflow/core/protobuf/{saved_model,meta_graph,
 * saved_object_graph}.proto, see ./proto/). The GraphDef, often most of the file, is skipped
 * without being read: the outer messages are scanned with small reads.
 */
import type { ByteSource } from '../../core/byteSource';
import { WeightFileError } from '../../core/errors';
import { decodeTensorShape, tfDataTypeName } from './bundleProto';
import { ProtoReader, WireType } from './protobuf';

/** Largest sub-message (MetaInfoDef, signatures, object graph) read into memory, in bytes. */
const maxSubMessageBytes = 256 * 1024 * 1024;

/** One input or output of a signature. */
export interface SignatureTensor {
  /** Key in the signature's map, e.g. 'x'. */
  key: string;
  /** Graph tensor name, e.g. 'serving_default_x:0' ('' for sparse/composite tensors). */
  name: string;
  /** DataType name, e.g. 'DT_FLOAT'. */
  dtype: string;
  /** Shape (-1 = unknown dimension); undefined when the rank is unknown. */
  shape?: number[];
}

/** A SignatureDef. */
export interface Signature {
  /** Map key, e.g. 'serving_default'. */
  key: string;
  /** method_name, e.g. 'tensorflow/serving/predict'. */
  methodName: string;
  /** inputs, sorted by key. */
  inputs: SignatureTensor[];
  /** outputs, sorted by key. */
  outputs: SignatureTensor[];
}

/** One SavedObjectGraph node, reduced to what naming needs. */
export interface SavedObjectNode {
  /** children: (local name, node id). */
  children: { nodeId: number; localName: string }[];
  /** Which oneof `kind` is set: 'user_object', 'variable', 'function', ... */
  kind: string;
  /** user_object.identifier, e.g. '_tf_keras_layer'. */
  identifier?: string;
  /** user_object.metadata (Keras JSON), when present. */
  metadata?: string;
  /** variable.name, e.g. 'sequential/dense/kernel'. */
  variableName?: string;
  /** variable.trainable. */
  trainable?: boolean;
}

/** What Weightscope reads from one MetaGraphDef. */
export interface SavedModelInfo {
  /** saved_model_schema_version. */
  schemaVersion: number;
  /** meta_info_def.tags, e.g. ['serve']. */
  tags: string[];
  /** meta_info_def.tensorflow_version. */
  tensorflowVersion?: string;
  /** meta_info_def.tensorflow_git_version. */
  tensorflowGitVersion?: string;
  /** signature_def entries, sorted by key. */
  signatures: Signature[];
  /** object_graph_def.nodes (empty for TF1 SavedModels). */
  objects: SavedObjectNode[];
  /** Number of MetaGraphDefs in the file (the first one is read). */
  metaGraphCount: number;
}

/** Reads varints and field headers straight from a ByteSource (no whole-file buffering). */
class SourceScanner {
  constructor(
    private readonly source: ByteSource,
    private readonly context: string,
  ) {}

  /** Reads a varint at `pos`; returns [value, next position]. */
  async varint(pos: number, end: number): Promise<[number, number]> {
    const n = Math.min(10, end - pos);
    if (n <= 0) {
      throw this.fail(`a varint at byte ${pos} runs past the end of its message`);
    }
    const bytes = await this.source.read(pos, n);
    let result = 0;
    for (let i = 0; i < n; i++) {
      const b = bytes[i]!;
      result += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) {
          throw this.fail(`the varint at byte ${pos} is too large`);
        }
        return [result, pos + i + 1];
      }
    }
    throw this.fail(`a varint at byte ${pos} runs past the end of its message or is longer than 10 bytes`);
  }

  /** Lists the fields of the message in [start, end): field, wire type, and value range. */
  async fields(start: number, end: number): Promise<{ field: number; wire: number; start: number; end: number }[]> {
    const out: { field: number; wire: number; start: number; end: number }[] = [];
    let pos = start;
    while (pos < end) {
      const [tag, p1] = await this.varint(pos, end);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      let valueEnd: number;
      let valueStart = p1;
      if (wire === WireType.Varint) {
        valueEnd = (await this.varint(p1, end))[1];
      } else if (wire === WireType.Fixed64) {
        valueEnd = p1 + 8;
      } else if (wire === WireType.Fixed32) {
        valueEnd = p1 + 4;
      } else if (wire === WireType.LengthDelimited) {
        const [len, p2] = await this.varint(p1, end);
        valueStart = p2;
        valueEnd = p2 + len;
      } else {
        throw this.fail(`unsupported wire type ${wire} at byte ${pos}`);
      }
      if (field === 0 || valueEnd > end) {
        throw this.fail(`field ${field} at byte ${pos} runs past the end of its message (byte ${end})`);
      }
      out.push({ field, wire, start: valueStart, end: valueEnd });
      pos = valueEnd;
    }
    return out;
  }

  /** Reads the bytes of a sub-message, refusing absurd sizes. */
  async bytes(start: number, end: number, what: string): Promise<Uint8Array> {
    if (end - start > maxSubMessageBytes) {
      throw new WeightFileError('tooLarge', `${this.source.name}: the ${what} is ${end - start} bytes, more than the ${maxSubMessageBytes}-byte limit.`, {
        file: this.source.name,
      });
    }
    return this.source.read(start, end - start);
  }

  private fail(detail: string): WeightFileError {
    return new WeightFileError('corrupt', `${this.context}: malformed protobuf, ${detail}.`, { file: this.source.name });
  }
}

/** Reads the first MetaGraphDef of a `saved_model.pb` (SavedModel { schema_version = 1; meta_graphs = 2 }). */
export async function readSavedModel(source: ByteSource): Promise<SavedModelInfo> {
  const scan = new SourceScanner(source, source.name);
  const top = await scan.fields(0, source.size);
  const info: SavedModelInfo = { schemaVersion: 0, tags: [], signatures: [], objects: [], metaGraphCount: 0 };
  let first: { start: number; end: number } | undefined;
  for (const f of top) {
    if (f.field === 1 && f.wire === WireType.Varint) {
      info.schemaVersion = (await scan.varint(f.start, f.end))[0]; // saved_model_schema_version
    } else if (f.field === 2 && f.wire === WireType.LengthDelimited) {
      info.metaGraphCount++; // meta_graphs
      first ??= f;
    }
  }
  if (!first) {
    throw new WeightFileError('corrupt', `${source.name}: the SavedModel holds no MetaGraphDef.`, { file: source.name });
  }
  // MetaGraphDef: meta_info_def = 1, graph_def = 2 (skipped), signature_def = 5, object_graph_def = 7.
  for (const f of await scan.fields(first.start, first.end)) {
    if (f.wire !== WireType.LengthDelimited) {
      continue;
    }
    if (f.field === 1) {
      decodeMetaInfo(await scan.bytes(f.start, f.end, 'meta_info_def'), info, source.name);
    } else if (f.field === 5) {
      info.signatures.push(decodeSignatureEntry(await scan.bytes(f.start, f.end, 'signature_def'), source.name));
    } else if (f.field === 7) {
      info.objects = decodeSavedObjectGraph(await scan.bytes(f.start, f.end, 'object_graph_def'), source.name);
    }
  }
  info.signatures.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return info;
}

function decodeMetaInfo(bytes: Uint8Array, info: SavedModelInfo, context: string): void {
  const r = new ProtoReader(bytes, `${context}: meta_info_def`);
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 4) {
      info.tags.push(r.string(wire)); // tags
    } else if (field === 5) {
      info.tensorflowVersion = r.string(wire); // tensorflow_version
    } else if (field === 6) {
      info.tensorflowGitVersion = r.string(wire); // tensorflow_git_version
    } else {
      r.skip(wire);
    }
  }
}

/** A map<string, SignatureDef> entry { key = 1; value = 2 }. */
function decodeSignatureEntry(bytes: Uint8Array, context: string): Signature {
  const r = new ProtoReader(bytes, `${context}: signature_def`);
  const sig: Signature = { key: '', methodName: '', inputs: [], outputs: [] };
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 1) {
      sig.key = r.string(wire);
    } else if (field === 2) {
      // SignatureDef: inputs = 1, outputs = 2 (map<string, TensorInfo>), method_name = 3.
      const s = new ProtoReader(r.bytesField(wire), `${context}: signature`);
      while (!s.done()) {
        const [f, w] = s.tag();
        if (f === 1) {
          sig.inputs.push(decodeTensorInfoEntry(s.bytesField(w), context));
        } else if (f === 2) {
          sig.outputs.push(decodeTensorInfoEntry(s.bytesField(w), context));
        } else if (f === 3) {
          sig.methodName = s.string(w);
        } else {
          s.skip(w);
        }
      }
    } else {
      r.skip(wire);
    }
  }
  const byKey = (a: SignatureTensor, b: SignatureTensor): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  sig.inputs.sort(byKey);
  sig.outputs.sort(byKey);
  return sig;
}

/** A map<string, TensorInfo> entry; TensorInfo { name = 1; dtype = 2; tensor_shape = 3 }. */
function decodeTensorInfoEntry(bytes: Uint8Array, context: string): SignatureTensor {
  const r = new ProtoReader(bytes, `${context}: signature tensor`);
  const t: SignatureTensor = { key: '', name: '', dtype: 'DT_INVALID' };
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 1) {
      t.key = r.string(wire);
    } else if (field === 2) {
      const ti = new ProtoReader(r.bytesField(wire), `${context}: TensorInfo`);
      while (!ti.done()) {
        const [f, w] = ti.tag();
        if (f === 1) {
          t.name = ti.string(w);
        } else if (f === 2) {
          t.dtype = tfDataTypeName(ti.int32(w));
        } else if (f === 3) {
          const shape = decodeTensorShape(ti.bytesField(w), context);
          if (!shape.unknownRank) {
            t.shape = shape.dims;
          }
        } else {
          ti.skip(w);
        }
      }
    } else {
      r.skip(wire);
    }
  }
  return t;
}

/** SavedObject oneof `kind` field numbers and names. */
const savedObjectKinds = new Map<number, string>([
  [4, 'user_object'],
  [5, 'asset'],
  [6, 'function'],
  [7, 'variable'],
  [8, 'bare_concrete_function'],
  [9, 'constant'],
  [10, 'resource'],
  [12, 'captured_tensor'],
]);

/** SavedObjectGraph { repeated SavedObject nodes = 1; map concrete_functions = 2 (skipped) }. */
export function decodeSavedObjectGraph(bytes: Uint8Array, context: string): SavedObjectNode[] {
  const r = new ProtoReader(bytes, `${context}: object_graph_def`);
  const nodes: SavedObjectNode[] = [];
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 1) {
      nodes.push(decodeSavedObject(r.bytesField(wire), context));
    } else {
      r.skip(wire);
    }
  }
  return nodes;
}

function decodeSavedObject(bytes: Uint8Array, context: string): SavedObjectNode {
  const r = new ProtoReader(bytes, `${context}: SavedObject`);
  const node: SavedObjectNode = { children: [], kind: '' };
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 1) {
      // children: ObjectReference { node_id = 1; local_name = 2 }
      const c = new ProtoReader(r.bytesField(wire), `${context}: ObjectReference`);
      const ref = { nodeId: 0, localName: '' };
      while (!c.done()) {
        const [f, w] = c.tag();
        if (f === 1) {
          ref.nodeId = c.int32(w);
        } else if (f === 2) {
          ref.localName = c.string(w);
        } else {
          c.skip(w);
        }
      }
      node.children.push(ref);
    } else if (field === 4) {
      node.kind = 'user_object';
      // SavedUserObject { identifier = 1; version = 2; metadata = 3 }
      const u = new ProtoReader(r.bytesField(wire), `${context}: SavedUserObject`);
      while (!u.done()) {
        const [f, w] = u.tag();
        if (f === 1) {
          node.identifier = u.string(w);
        } else if (f === 3) {
          node.metadata = u.string(w);
        } else {
          u.skip(w);
        }
      }
    } else if (field === 7) {
      node.kind = 'variable';
      // SavedVariable { dtype = 1; shape = 2; trainable = 3; ...; name = 6 }
      const v = new ProtoReader(r.bytesField(wire), `${context}: SavedVariable`);
      while (!v.done()) {
        const [f, w] = v.tag();
        if (f === 3) {
          node.trainable = v.bool(w);
        } else if (f === 6) {
          node.variableName = v.string(w);
        } else {
          v.skip(w);
        }
      }
    } else {
      const kind = savedObjectKinds.get(field);
      if (kind) {
        node.kind = kind;
      }
      r.skip(wire);
    }
  }
  return node;
}

/** Reads `keras_metadata.pb` (SavedMetadata { nodes = 1: { node_id = 2; node_path = 3; identifier = 4; metadata = 5 } }). */
export function decodeKerasMetadata(bytes: Uint8Array, context: string): Map<number, { identifier: string; metadata: string; nodePath: string }> {
  const r = new ProtoReader(bytes, `${context}: keras metadata`);
  const out = new Map<number, { identifier: string; metadata: string; nodePath: string }>();
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field !== 1) {
      r.skip(wire);
      continue;
    }
    const n = new ProtoReader(r.bytesField(wire), `${context}: keras metadata node`);
    let nodeId = 0;
    const item = { identifier: '', metadata: '', nodePath: '' };
    while (!n.done()) {
      const [f, w] = n.tag();
      if (f === 2) {
        nodeId = n.int32(w);
      } else if (f === 3) {
        item.nodePath = n.string(w);
      } else if (f === 4) {
        item.identifier = n.string(w);
      } else if (f === 5) {
        item.metadata = n.string(w);
      } else {
        n.skip(w);
      }
    }
    out.set(nodeId, item);
  }
  return out;
}
