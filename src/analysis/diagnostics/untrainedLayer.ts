/**
 * Rule `untrained-layer`: layers whose kernels are still at their initial draw. When the whole
 * file is untrained that is one finding; when other layers were trained, an untouched layer is
 * suspicious (frozen by mistake, or not connected to the loss).
 */
import { isReportedConstant } from './constantKernel';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev } from './format';

/** Names layers still at their initial distribution. */
export const untrainedLayer: DiagnosticRule = {
  id: 'untrainedLayer',
  codes: ['untrained-layer'],
  description: 'Layers whose weights are still at their initial random draw.',
  run(ctx) {
    // A constant kernel is no random draw (constant-kernel reports it).
    const kernels = ctx.kernels().filter((k) => k.match && !isReportedConstant(ctx, k));
    if (kernels.length === 0) {
      return [];
    }
    const atInit = kernels.filter((k) => k.match!.atInit);
    const trained = kernels.length - atInit.length;
    if (atInit.length === 0) {
      return [];
    }
    const out: Diagnostic[] = [];
    if (trained === 0) {
      out.push({
        severity: 'info',
        code: 'untrained-layer',
        message: `All ${kernels.length} weight tensors are still at their initial random draw: this file holds an untrained model.`,
        evidence: { untrained: atInit.length, trained: 0, biasesAllZero: kernels.filter((k) => k.biasAllZero).length },
      });
    }
    for (const k of atInit) {
      const layerName = k.layer?.name ?? k.tensor.layer;
      const frozen = k.layer?.trainable === false || k.tensor.trainable === false;
      const suspicious = trained > 0 && !frozen;
      const bias = k.biasAllZero ? '; its bias is still all zeros' : '';
      out.push({
        severity: suspicious ? 'warning' : 'info',
        code: 'untrained-layer',
        layer: layerName || undefined,
        tensor: k.tensor.name,
        message: suspicious
          ? `${k.tensor.name} is still at its initial ${k.match!.best.label} draw${bias}, while ${trained} other weight tensors were trained: is the layer frozen or cut off from the loss?`
          : `${k.tensor.name} is still at its initial ${k.match!.best.label} draw${bias}${frozen ? ' (the layer is not trainable)' : ''}.`,
        evidence: {
          initializer: k.match!.best.id,
          ks: ev(k.match!.untrainedEvidence.ks),
          ksCritical: ev(k.match!.untrainedEvidence.ksCritical),
          spectralRatio: ev(k.match!.untrainedEvidence.spectralRatio),
          biasAllZero: k.biasAllZero ?? null,
          trainable: k.layer?.trainable ?? k.tensor.trainable ?? null,
          otherTrained: trained,
        },
      });
    }
    return out;
  },
};
