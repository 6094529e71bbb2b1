/**
 * Rule `regularization-summary`: one model-level line on regularization: how many regularizers,
 * the total penalty, dropout layers and rates, and how many weight layers have neither.
 */
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';

/** Summarizes the model's regularization (only when the file has an architecture). */
export const regularizationSummary: DiagnosticRule = {
  id: 'regularizationSummary',
  codes: ['regularization-summary'],
  description: 'Regularizers, total penalty and dropout of the whole model.',
  run(ctx) {
    const report = ctx.regularization();
    if (!report.hasArchitecture) {
      return [];
    }
    const weightLayers = report.layers.filter((l) => l.kernel);
    const unregularized = weightLayers.filter((l) => !l.regularizers.some((r) => r.target === 'kernel'));
    const dropout = report.dropout.map((d) => `${d.layer} (${fmt(d.rate)})`).join(', ');
    const out: Diagnostic[] = [
      {
        severity: 'info',
        code: 'regularization-summary',
        message:
          `${report.regularizerCount} regularizer${report.regularizerCount === 1 ? '' : 's'} configured` +
          (report.regularizerCount ? ` (total penalty ${fmt(report.totalPenalty)})` : '') +
          `; dropout: ${dropout || 'none'}; ${unregularized.length} of ${weightLayers.length} weight layers have no kernel regularizer.`,
        evidence: {
          regularizers: report.regularizerCount,
          totalPenalty: ev(report.totalPenalty),
          dropoutLayers: report.dropout.length,
          maxDropoutRate: report.dropout.length ? Math.max(...report.dropout.map((d) => d.rate)) : null,
          weightLayers: weightLayers.length,
          unregularizedLayers: unregularized.length,
        },
      },
    ];
    return out;
  },
};
