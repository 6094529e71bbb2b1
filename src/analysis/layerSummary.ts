/**
 * Per-layer totals of a weight file (parameter counts and stored bytes), from headers only.
 */
import { knownElementCount, type TensorInfo, type WeightFile } from '../core/model';

/** One layer with its parameter and byte totals. */
export interface LayerSummary {
  /** Layer name as in WeightFile.layers. */
  name: string;
  /** Keras class name, when the file has an architecture. */
  className?: string;
  /** Activation name, when the layer has one. */
  activation?: string;
  /** Sum of the element counts of the layer's model-group tensors (those of unknown shape left out). */
  params: number;
  /** Sum of the stored bytes of the layer's model-group tensors. */
  bytes: number;
  /** Whether the layer is trainable, when known. */
  trainable?: boolean;
  /** Names of the layer's tensors (all groups), in the layer's weight order. */
  tensors: string[];
}

/**
 * Summarizes the layers of a file in layer order. A layer's tensors are those its LayerInfo lists,
 * followed by any other tensor whose `layer` names it; optimizer state is listed but not counted.
 */
export function summarizeLayers(file: WeightFile): LayerSummary[] {
  const byName = new Map<string, TensorInfo>();
  const byLayer = new Map<string, TensorInfo[]>();
  for (const t of file.tensors) {
    byName.set(t.name, t);
    if (t.layer !== '') {
      const list = byLayer.get(t.layer) ?? [];
      list.push(t);
      byLayer.set(t.layer, list);
    }
  }
  return file.layers.map((layer) => {
    const names: string[] = [];
    const seen = new Set<string>();
    for (const name of layer.tensors) {
      if (!seen.has(name)) {
        seen.add(name);
        names.push(name);
      }
    }
    for (const t of byLayer.get(layer.name) ?? []) {
      if (!seen.has(t.name)) {
        seen.add(t.name);
        names.push(t.name);
      }
    }
    let params = 0;
    let bytes = 0;
    for (const name of names) {
      const t = byName.get(name);
      if (t && t.group === 'model') {
        params += knownElementCount(t) ?? 0;
        bytes += t.byteLength;
      }
    }
    // Fields in the order the README documents for the JSON report.
    return {
      name: layer.name,
      ...(layer.className !== undefined ? { className: layer.className } : {}),
      ...(layer.activation !== undefined ? { activation: layer.activation } : {}),
      params,
      bytes,
      ...(layer.trainable !== undefined ? { trainable: layer.trainable } : {}),
      tensors: names,
    };
  });
}
