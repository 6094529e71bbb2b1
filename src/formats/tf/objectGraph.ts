/**
 * TrackableObjectGraph (`_CHECKPOINTABLE_OBJECT_GRAPH` of TF2 object-based checkpoints) and the
 * mapping from checkpoint keys to graph nodes (notes/weight-formats.md section 1.4;
 * tensorflow/core/protobuf/trackable_object_graph.proto, see ./proto/).
 */
import { WeightFileError } from '../../core/errors';
import { ProtoReader } from './protobuf';

/** ObjectReference: an edge from a node to a child. */
export interface ObjectReference {
  /** node_id = 1. */
  nodeId: number;
  /** local_name = 2: the attribute name on the parent ('layer_with_weights-0', 'kernel'). */
  localName: string;
}

/** SerializedTensor: one saved value of a node. */
export interface SerializedTensor {
  /** name = 1: attribute name, e.g. 'VARIABLE_VALUE'. */
  name: string;
  /** full_name = 2: the TF variable name at save time, e.g. 'sequential/dense/kernel'. */
  fullName: string;
  /** checkpoint_key = 3: the `.index` key holding the value. */
  checkpointKey: string;
}

/** SlotVariableReference: an optimizer slot of a variable. */
export interface SlotVariableReference {
  /** original_variable_node_id = 1. */
  originalVariableNodeId: number;
  /** slot_name = 2, e.g. 'm', 'v', 'momentum'. */
  slotName: string;
  /** slot_variable_node_id = 3. */
  slotVariableNodeId: number;
}

/** TrackableObject: one node of the graph (node 0 is the root). */
export interface TrackableObject {
  /** children = 1. */
  children: ObjectReference[];
  /** attributes = 2. */
  attributes: SerializedTensor[];
  /** slot_variables = 3 (on optimizer nodes). */
  slotVariables: SlotVariableReference[];
}

/** Decodes a serialized TrackableObjectGraph { repeated TrackableObject nodes = 1 }. */
export function decodeTrackableObjectGraph(bytes: Uint8Array, context: string): TrackableObject[] {
  const r = new ProtoReader(bytes, `${context}: object graph`);
  const nodes: TrackableObject[] = [];
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 1) {
      nodes.push(decodeTrackableObject(r.bytesField(wire), context));
    } else {
      r.skip(wire);
    }
  }
  for (const [i, n] of nodes.entries()) {
    const bad = n.children.find((c) => c.nodeId < 0 || c.nodeId >= nodes.length);
    if (bad) {
      throw new WeightFileError('corrupt', `${context}: object graph node ${i} refers to child node ${bad.nodeId} of ${nodes.length}.`);
    }
  }
  return nodes;
}

function decodeTrackableObject(bytes: Uint8Array, context: string): TrackableObject {
  const r = new ProtoReader(bytes, `${context}: object graph node`);
  const node: TrackableObject = { children: [], attributes: [], slotVariables: [] };
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 1) {
      // children: ObjectReference { node_id = 1; local_name = 2 }
      const c = new ProtoReader(r.bytesField(wire), `${context}: object reference`);
      const ref: ObjectReference = { nodeId: 0, localName: '' };
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
    } else if (field === 2) {
      // attributes: SerializedTensor { name = 1; full_name = 2; checkpoint_key = 3 }
      const a = new ProtoReader(r.bytesField(wire), `${context}: serialized tensor`);
      const t: SerializedTensor = { name: '', fullName: '', checkpointKey: '' };
      while (!a.done()) {
        const [f, w] = a.tag();
        if (f === 1) {
          t.name = a.string(w);
        } else if (f === 2) {
          t.fullName = a.string(w);
        } else if (f === 3) {
          t.checkpointKey = a.string(w);
        } else {
          a.skip(w);
        }
      }
      node.attributes.push(t);
    } else if (field === 3) {
      // slot_variables: { original_variable_node_id = 1; slot_name = 2; slot_variable_node_id = 3 }
      const s = new ProtoReader(r.bytesField(wire), `${context}: slot variable reference`);
      const slot: SlotVariableReference = { originalVariableNodeId: -1, slotName: '', slotVariableNodeId: -1 };
      while (!s.done()) {
        const [f, w] = s.tag();
        if (f === 1) {
          slot.originalVariableNodeId = s.int32(w);
        } else if (f === 2) {
          slot.slotName = s.string(w);
        } else if (f === 3) {
          slot.slotVariableNodeId = s.int32(w);
        } else {
          s.skip(w);
        }
      }
      node.slotVariables.push(slot);
    } else {
      r.skip(wire);
    }
  }
  return node;
}

/** What the object graph says about one checkpoint key. */
export interface CheckpointKeyInfo {
  /** Node holding the value. */
  nodeId: number;
  /** Path of local names from the root to the node (first one found breadth-first). */
  path: string[];
  /** Parent node on that path (undefined for the root). */
  parentNodeId?: number;
  /** Attribute name, e.g. 'VARIABLE_VALUE'. */
  attribute: string;
  /** The TF variable name at save time ('' when not recorded). */
  fullName: string;
  /** When the node is an optimizer slot: the variable node it belongs to and the slot name. */
  slot?: { variableNodeId: number; slotName: string };
}

/** Node facts derived by a breadth-first walk from the root. */
export interface GraphWalk {
  /** Checkpoint key -> node facts. */
  keys: Map<string, CheckpointKeyInfo>;
  /** Node id -> first path from the root. */
  paths: Map<number, string[]>;
  /** Node id -> parent on that path. */
  parents: Map<number, number>;
  /** Node id -> its position among its parent's children (creation order, e.g. kernel before bias). */
  childOrder: Map<number, number>;
}

/** Walks the graph breadth-first from node 0 and indexes every attribute's checkpoint key. */
export function walkObjectGraph(nodes: readonly TrackableObject[]): GraphWalk {
  const paths = new Map<number, string[]>();
  const parents = new Map<number, number>();
  const childOrder = new Map<number, number>();
  if (nodes.length > 0) {
    paths.set(0, []);
    const queue = [0];
    for (let qi = 0; qi < queue.length; qi++) {
      const id = queue[qi]!;
      const base = paths.get(id)!;
      for (const [index, child] of nodes[id]!.children.entries()) {
        if (!paths.has(child.nodeId)) {
          paths.set(child.nodeId, [...base, child.localName]);
          parents.set(child.nodeId, id);
          childOrder.set(child.nodeId, index);
          queue.push(child.nodeId);
        }
      }
    }
  }
  const slots = new Map<number, { variableNodeId: number; slotName: string }>();
  for (const n of nodes) {
    for (const s of n.slotVariables) {
      slots.set(s.slotVariableNodeId, { variableNodeId: s.originalVariableNodeId, slotName: s.slotName });
    }
  }
  const keys = new Map<string, CheckpointKeyInfo>();
  nodes.forEach((n, id) => {
    for (const a of n.attributes) {
      if (!a.checkpointKey) {
        continue;
      }
      const info: CheckpointKeyInfo = { nodeId: id, path: paths.get(id) ?? [], attribute: a.name, fullName: a.fullName };
      const parent = parents.get(id);
      if (parent !== undefined) {
        info.parentNodeId = parent;
      }
      const slot = slots.get(id);
      if (slot) {
        info.slot = slot;
      }
      keys.set(a.checkpointKey, info);
    }
  });
  return { keys, paths, parents, childOrder };
}
