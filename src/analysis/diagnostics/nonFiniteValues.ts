/**
 * Rule `non-finite-values`: NaN or infinite weights break every forward pass that touches them.
 */
import type { Diagnostic, DiagnosticRule } from './diagnostic';

/** Flags tensors holding NaN or +-Infinity. */
export const nonFiniteValues: DiagnosticRule = {
  id: 'nonFiniteValues',
  codes: ['non-finite-values'],
  description: 'Weights that are NaN or infinite.',
  run(ctx) {
    const out: Diagnostic[] = [];
    for (const t of ctx.file.tensors) {
      const s = ctx.stats.get(t.name);
      if (!s) {
        continue;
      }
      const bad = s.nanCount + s.posInfCount + s.negInfCount;
      if (bad === 0) {
        continue;
      }
      const where = t.group === 'optimizer' ? ' (optimizer state: resuming training will propagate it)' : '';
      out.push({
        severity: t.group === 'model' ? 'error' : 'warning',
        code: 'non-finite-values',
        layer: ctx.layerOf(t)?.name,
        tensor: t.name,
        message: `${t.name} holds ${s.nanCount} NaN, ${s.posInfCount} +Infinity and ${s.negInfCount} -Infinity values out of ${s.count}${where}; any output that depends on them is NaN.`,
        evidence: { nanCount: s.nanCount, posInfCount: s.posInfCount, negInfCount: s.negInfCount, count: s.count, group: t.group },
      });
    }
    return out;
  },
};
