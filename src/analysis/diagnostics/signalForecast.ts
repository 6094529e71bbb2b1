/**
 * Rules `signal-vanishing` / `signal-exploding`: the data-free forecast's cumulative forward
 * (activation) or backward (gradient) gain leaves [1e-2, 1e2], pointing at the layers that shrink
 * or grow the signal most. Warnings for plain chains; info when normalization layers rescale.
 */
import type { SignalLayer } from '../signalPropagation';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';

function responsible(layers: SignalLayer[], gain: (l: SignalLayer) => number, vanishing: boolean): SignalLayer[] {
  return layers
    .filter((l) => (vanishing ? gain(l) < 1 : gain(l) > 1))
    .sort((a, b) => (vanishing ? gain(a) - gain(b) : gain(b) - gain(a)))
    .slice(0, 3);
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
    const weightLayers = f.layers.filter((l) => l.kind === 'weights');
    if (weightLayers.length < 2) {
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
    // A layer whose output feeds a normalization layer (directly or through an activation), or
    // that has one folded in, does not pass its scale on.
    const renormalized = (i: number): boolean => {
      const next = f.layers[i + 1];
      const after = f.layers[i + 2];
      return f.layers[i]!.foldedNormalization !== undefined || next?.kind === 'normalization' || (next?.kind === 'activation' && after?.kind === 'normalization');
    };
    // Forward: the first layer after which the activation scale leaves the band.
    const fIdx = f.layers.findIndex((l, i) => (l.cumulativeForward < f.lowerBound || l.cumulativeForward > f.upperBound) && !renormalized(i));
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
    let bIdx = -1;
    for (let i = f.layers.length - 1; i >= 0; i--) {
      const l = f.layers[i]!;
      if (l.kind === 'weights' && (l.cumulativeBackward < f.lowerBound || l.cumulativeBackward > f.upperBound)) {
        bIdx = i;
        break;
      }
    }
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
