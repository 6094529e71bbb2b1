/**
 * Rule `unregularized-growth`: a large weight layer without a kernel regularizer whose weights
 * grew well past the scale of their initializer (a sign of overfitting-prone, unconstrained
 * weights).
 */
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';

/** Parameters from which a layer counts as large. */
export const largeLayerParams = 65536;
/** rms / initializer rms at or above which the weights have grown. */
export const growthRatio = 2;

/** Flags large unregularized layers with grown weights. */
export const unregularizedGrowth: DiagnosticRule = {
  id: 'unregularizedGrowth',
  codes: ['unregularized-growth'],
  description: 'Large layers without weight regularization whose weights grew far past their initial scale.',
  run(ctx) {
    const report = ctx.regularization();
    if (!report.hasArchitecture) {
      return [];
    }
    const out: Diagnostic[] = [];
    for (const l of report.layers) {
      if (!l.kernel || (l.kernelParams ?? 0) < largeLayerParams || l.growth === undefined || l.growth < growthRatio) {
        continue;
      }
      if (l.regularizers.some((r) => r.target === 'kernel') || /Embedding/.test(l.className ?? '')) {
        continue;
      }
      out.push({
        severity: 'warning',
        code: 'unregularized-growth',
        layer: l.layer,
        tensor: l.kernel,
        message: `${l.layer}: ${fmt(l.kernelParams)} weights without a kernel regularizer have grown to ${fmt(l.growth)}x the rms of their initializer; consider L2 weight decay${report.dropout.length ? '' : ' or dropout'}.`,
        evidence: { params: l.kernelParams ?? null, growth: ev(l.growth), dropoutLayers: report.dropout.length },
      });
    }
    return out;
  },
};
