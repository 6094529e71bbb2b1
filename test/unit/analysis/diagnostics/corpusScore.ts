/**
 * Scores the initializer identification on the labelled corpus of scripts/make-init-corpus.mjs:
 * every corpus tensor becomes a one-layer model without initializer config (so the answer comes
 * from the values alone) and runs through runDiagnostics; the `initializer-match` finding is
 * compared with the label.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { computeFans } from '../../../../src/analysis/fans';
import { initializerCandidates } from '../../../../src/analysis/initializers';
import { runDiagnostics } from '../../../../src/analysis/diagnostics/diagnostic';
import { sampleTensor } from '../../../../src/analysis/diagnostics/sampleTensor';
import type { TensorRole } from '../../../../src/core/model';
import { buildModel, statsOf } from './modelBuilder';

/** One corpus entry as written by the generator. */
export interface CorpusEntry {
  file: string;
  initializer: string;
  label: string;
  kind: string;
  shape: number[];
  className: string;
  role: TensorRole;
  activation: string;
  trained: boolean;
  relativeUpdate: number;
}

/** The verdict on one entry. */
export interface CorpusResult extends CorpusEntry {
  predicted: string;
  correct: boolean;
  atInit: boolean;
  ks: number;
  stdRatio: number;
}

/** Identifies every corpus entry. */
export async function scoreCorpus(dir: string): Promise<CorpusResult[]> {
  const corpus = JSON.parse(fs.readFileSync(path.join(dir, 'corpus.json'), 'utf8')) as { entries: CorpusEntry[] };
  const results: CorpusResult[] = [];
  for (const e of corpus.entries) {
    const buf = fs.readFileSync(path.join(dir, e.file));
    const values = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const file = buildModel([{ name: 'layer', className: e.className, activation: e.role === 'embeddings' ? undefined : e.activation, units: e.shape[e.shape.length - 1], weights: [{ weight: e.role === 'embeddings' ? 'embeddings' : e.role, role: e.role, shape: e.shape, values }] }], {
      metadata: { generatedBy: 'TensorFlow.js tfjs-layers' },
    });
    const stats = await statsOf(file);
    const tensor = file.tensors[0]!;
    const samples = new Map([[tensor.name, await sampleTensor(tensor)]]);
    const diags = runDiagnostics({ file, stats, samples });
    const m = diags.find((d) => d.code === 'initializer-match');
    const predicted = String(m?.evidence['candidate'] ?? 'none');
    const fans = computeFans(tensor, file.layers[0], file.format);
    const cands = initializerCandidates(fans.initFanIn, fans.initFanOut, fans.kerasShape);
    const truth = cands.find((c) => c.id === e.label);
    const pred = cands.find((c) => c.id === predicted);
    const equivalent = !!truth && !!pred && truth.distribution === pred.distribution && Math.abs(pred.std / truth.std - 1) < 0.03;
    results.push({
      ...e,
      predicted,
      correct: predicted === e.label || equivalent,
      atInit: m?.evidence['atInit'] === true,
      ks: Number(m?.evidence['ks']),
      stdRatio: Number(m?.evidence['stdRatio']),
    });
  }
  return results;
}
