/**
 * Rules `signal-vanishing` / `signal-exploding`: the data-free forecast's cumulative forward
 * (activation) or backward (gradient) gain leaves [1e-2, 1e2], pointing at the layers that shrink
 * or grow the signal most. Warnings for plain chains; info when normalization layers rescale.
 */
import type { SignalForecast, SignalLayer } from '../signalPropagation';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';

function responsible(layers: SignalLayer[], gain: (l: SignalLayer) => number, vanishing: boolean): SignalLayer[] {
  return layers
    .filter((l) => (vanishing ? gain(l) < 1 : gain(l) > 1))
    .sort((a, b) => (vanishing ? gain(a) - gain(b) : gain(b) - gain(a)))
    .slice(0, 3);
}

/** Which parts of a forecast the rule judges, and why the rest is not (for the report). */
export interface ForecastJudgement {
  /** False when the rule judges nothing (no architecture, fewer than 2 layers with weights). */
  judged: boolean;
  /** Why nothing is judged, one sentence; absent when judged. */
  reason?: string;
  /** Per layer: its output goes straight into a normalization layer (or has one folded in), so its forward scale is not passed on. */
  renormalized: boolean[];
  /** Index of the layer the forward finding names, -1 when none. */
  forwardIndex: number;
  /** Index of the layer the backward finding names, -1 when none. */
  backwardIndex: number;
}

const outOfBand = (f: SignalForecast, x: number): boolean => x < f.lowerBound || x > f.upperBound;

/** What the signal rule judges in a forecast: the layers its findings name, and the layers it leaves out. */
export function judgeForecast(f: SignalForecast): ForecastJudgement {
  const weightLayers = f.layers.filter((l) => l.kind === 'weights').length;
  // A layer whose output feeds a normalization layer (directly or through an activation), or
  // that has one folded in, does not pass its scale on.
  const renormalized = f.layers.map((l, i) => {
    const next = f.layers[i + 1];
    const after = f.layers[i + 2];
    return l.foldedNormalization !== undefined || next?.kind === 'normalization' || (next?.kind === 'activation' && after?.kind === 'normalization');
  });
  if (!f.architecture) {
    return { judged: false, reason: 'the file has no architecture, so the activations are unknown.', renormalized, forwardIndex: -1, backwardIndex: -1 };
  }
  if (weightLayers < 2) {
    return {
      judged: false,
      reason: `${weightLayers === 0 ? 'no layer has' : 'only 1 layer has'} weights, so there is no depth for the scale to compound through (initializer-scale judges that layer's own scale).`,
      renormalized,
      forwardIndex: -1,
      backwardIndex: -1,
    };
  }
  // Forward: the first layer after which the activation scale leaves the band.
  const forwardIndex = f.layers.findIndex((l, i) => outOfBand(f, l.cumulativeForward) && !renormalized[i]);
  // Backward: the gradient reaching each layer's weights, checked from the output down; the
  // layer nearest the output where it first leaves the band.
  let backwardIndex = -1;
  for (let i = f.layers.length - 1; i >= 0; i--) {
    const l = f.layers[i]!;
    if (l.kind === 'weights' && outOfBand(f, l.cumulativeBackward)) {
      backwardIndex = i;
      break;
    }
  }
  return { judged: true, renormalized, forwardIndex, backwardIndex };
}

/**
 * Why a forecast value outside the band is not a finding, for one layer and direction; undefined
 * when it is inside the band or a finding covers it (at or past the layer a finding names).
 */
export function unjudgedReason(f: SignalForecast, j: ForecastJudgement, i: number, direction: 'forward' | 'backward'): string | undefined {
  const l = f.layers[i]!;
  if (!j.judged || !outOfBand(f, direction === 'forward' ? l.cumulativeForward : l.cumulativeBackward)) {
    return undefined;
  }
  if (direction === 'forward') {
    if (j.forwardIndex >= 0 && i >= j.forwardIndex) {
      return undefined;
    }
    return j.renormalized[i] ? (l.foldedNormalization !== undefined ? 'a normalization folded into it resets the scale' : 'the normalization after it resets the scale') : undefined;
  }
  if (j.backwardIndex >= 0 && i <= j.backwardIndex) {
    return undefined;
  }
  return l.kind === 'weights' ? undefined : 'no weights here, and the rule judges the gradient that reaches weights';
}

/** Warns when the forecast signal or gradient scale leaves the healthy band. */
export const signalForecast: DiagnosticRule = {
  id: 'signalForecast',
  codes: ['signal-vanishing', 'signal-exploding'],
  description: 'Forecast activation or gradient scale leaving [1e-2, 1e2] through the depth of the network.',
  run(ctx) {
    if (!ctx.hasArchitecture) {
      return [];
    }
    const f = ctx.forecast();
    const j = judgeForecast(f);
    if (!j.judged) {
      return [];
    }
    const out: Diagnostic[] = [];
    // With normalization layers (and the residual connections such models usually have, which the
    // chain does not model) the actual scale is held in check: findings are info, not warnings.
    // Batch normalizations a converter folded into the kernels (TFLite) count like the layers.
    const folded = f.layers.some((l) => l.foldedNormalization !== undefined);
    const normalized = folded || f.layers.some((l) => l.kind === 'normalization');
    const residual = f.residualAdds > 0;
    const severity: Diagnostic['severity'] = normalized || residual ? 'info' : 'warning';
    const note = normalized
      ? ` The model has normalization layers${folded ? ' (folded into the kernels by the converter)' : ''}, which rescale activations and gradients during training; residual connections are not modelled.`
      : residual
        ? ` The graph adds branches together (${f.residualAdds} ADD ops: residual connections), which the chain does not model.`
        : '';
    const fIdx = j.forwardIndex;
    if (fIdx >= 0) {
      const at = f.layers[fIdx]!;
      const vanishing = at.cumulativeForward < f.lowerBound;
      const upTo = f.layers.slice(0, fIdx + 1);
      const final = f.layers[f.layers.length - 1]!.cumulativeForward;
      const resp = responsible(upTo, (l) => l.forwardGain, vanishing);
      out.push({
        severity,
        code: vanishing ? 'signal-vanishing' : 'signal-exploding',
        layer: at.name,
        message:
          `Forward signal forecast ${vanishing ? 'vanishes' : 'explodes'}: after ${at.name} (layer ${fIdx + 1} of ${f.layers.length}) the activation scale^2 is ${fmt(at.cumulativeForward)} of the input's ` +
          `(healthy band ${fmt(f.lowerBound)}..${fmt(f.upperBound)}; ${fmt(final)} at the output). ${vanishing ? 'Largest shrink' : 'Largest growth'}: ${resp.map((l) => `${l.name} (gain ${fmt(l.forwardGain)})`).join(', ')}.${note}`,
        evidence: {
          direction: 'forward',
          cumulativeAtLayer: ev(at.cumulativeForward),
          cumulativeAtOutput: ev(final),
          lowerBound: f.lowerBound,
          upperBound: f.upperBound,
          responsible: resp.map((l) => l.name).join(','),
          worstGain: ev(resp[0]?.forwardGain),
          layers: f.layers.length,
          normalized,
          residualAdds: f.residualAdds,
        },
      });
    }
    // Backward: the gradient reaching each layer's weights, checked from the output down; report
    // the layer nearest the output where it first leaves the band.
    const bIdx = j.backwardIndex;
    if (bIdx >= 0) {
      const first = f.layers.findIndex((l) => l.kind === 'weights');
      const at = f.layers[bIdx]!;
      const vanishing = at.cumulativeBackward < f.lowerBound;
      const atFirst = f.layers[first]!;
      const resp = responsible(f.layers.slice(bIdx), (l) => l.backwardGain, vanishing);
      out.push({
        severity,
        code: vanishing ? 'signal-vanishing' : 'signal-exploding',
        layer: at.name,
        message:
          `Backward gradient forecast ${vanishing ? 'vanishes' : 'explodes'}: the gradient reaching ${at.name}'s weights is ${fmt(at.cumulativeBackward)} of the output gradient's scale^2 ` +
          `(${fmt(atFirst.cumulativeBackward)} at the first layer, ${atFirst.name}). ${vanishing ? 'Largest shrink' : 'Largest growth'}: ${resp.map((l) => `${l.name} (gain ${fmt(l.backwardGain)})`).join(', ')}.${note}`,
        evidence: {
          direction: 'backward',
          cumulativeAtLayer: ev(at.cumulativeBackward),
          cumulativeAtFirstLayer: ev(atFirst.cumulativeBackward),
          lowerBound: f.lowerBound,
          upperBound: f.upperBound,
          responsible: resp.map((l) => l.name).join(','),
          worstGain: ev(resp[0]?.backwardGain),
          layers: f.layers.length,
          normalized,
          residualAdds: f.residualAdds,
        },
      });
    }
    return out;
  },
};
