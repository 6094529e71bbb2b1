/**
 * Rule `initializer-config-mismatch`: a kernel still at an initial draw that is not the
 * initializer its architecture names (weights set by other code, or a config edited after saving).
 */
import { isReportedConstant } from './constantKernel';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';

/** Flags untrained kernels whose draw contradicts the configured initializer. */
export const initializerConfigMismatch: DiagnosticRule = {
  id: 'initializerConfigMismatch',
  codes: ['initializer-config-mismatch'],
  description: 'Untrained kernels whose values do not come from the configured initializer.',
  run(ctx) {
    const out: Diagnostic[] = [];
    for (const k of ctx.kernels()) {
      const m = k.match;
      const cfg = m?.configured;
      if (!m || !cfg || !k.configured || !m.atInit || isReportedConstant(ctx, k)) {
        continue;
      }
      const same = cfg.id === m.best.id || m.equivalent.includes(cfg.id) || (cfg.distribution === m.best.distribution && Math.abs(cfg.expectedStd / m.best.expectedStd - 1) < 0.03);
      if (same) {
        continue;
      }
      out.push({
        severity: 'warning',
        code: 'initializer-config-mismatch',
        layer: k.layer?.name,
        tensor: k.tensor.name,
        message: `${k.tensor.name} is an untouched draw of ${m.best.label} (KS ${fmt(m.best.ks)}), but the architecture configures ${cfg.label} (KS ${fmt(cfg.ks)}, std ratio ${fmt(cfg.stdRatio)}): the weights were not produced by this config.`,
        evidence: { identified: m.best.id, identifiedKs: ev(m.best.ks), configured: cfg.label, configuredKs: ev(cfg.ks), configuredStdRatio: ev(cfg.stdRatio) },
      });
    }
    return out;
  },
};
