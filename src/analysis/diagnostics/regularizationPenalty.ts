/**
 * Rule `regularization-penalty`: each configured regularizer with the penalty it currently adds to
 * the loss (Keras definitions: l1 x sum|w| + l2 x sum w^2) and its share of the total.
 */
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt, pct } from './format';

/** Reports configured regularizers and their penalties. */
export const regularizationPenalty: DiagnosticRule = {
  id: 'regularizationPenalty',
  codes: ['regularization-penalty'],
  description: 'Configured L1/L2 regularizers, their current penalty and share of the total.',
  run(ctx) {
    const report = ctx.regularization();
    const out: Diagnostic[] = [];
    for (const l of report.layers) {
      for (const r of l.regularizers) {
        const c = r.coefficients;
        const coef = [c.l1 ? `l1=${fmt(c.l1)}` : '', c.l2 ? `l2=${fmt(c.l2)}` : ''].filter(Boolean).join(', ') || '0';
        const observed = r.target === 'kernel' && l.sparsity !== undefined ? `; kernel sparsity ${pct(l.sparsity)}, L1/L2 ratio ${fmt(l.l1l2Ratio)}` : '';
        const penalty = r.penalty === null
          ? r.target === 'activity' ? 'its penalty depends on the activations (not computable from the weights)' : 'no statistics for its tensor'
          : `penalty ${fmt(r.penalty)}${r.share !== null ? ` (${pct(r.share)} of the total ${fmt(report.totalPenalty)})` : ''}`;
        out.push({
          severity: 'info',
          code: 'regularization-penalty',
          layer: l.layer,
          tensor: r.tensor,
          message: `${l.layer}: ${c.className}(${coef}) on the ${r.target}: ${penalty}${observed}.`,
          evidence: {
            target: r.target,
            regularizer: c.className,
            l1: c.l1,
            l2: c.l2,
            penalty: ev(r.penalty),
            share: ev(r.share),
            totalPenalty: ev(report.totalPenalty),
            sparsity: ev(l.sparsity),
            l1l2Ratio: ev(l.l1l2Ratio),
          },
        });
      }
    }
    return out;
  },
};
