/**
 * Rule `untrained-layer`: layers whose kernels are indistinguishable from their initial draw. When
 * the whole file is untrained that is one finding; when other layers were trained, an
 * untouched-looking layer is suspicious (frozen by mistake, or not connected to the loss) if the
 * test could have seen moderate training in a tensor of its size, else info saying so.
 */
import { isReportedConstant } from './constantKernel';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev } from './format';
import { moderateUpdate } from '../initializers';

/** Power (against a 25% update) below which an untouched-looking layer among trained ones is info, not a warning. */
export const minWarningPower = 0.5;

/** Names layers still at their initial distribution. */
export const untrainedLayer: DiagnosticRule = {
  id: 'untrainedLayer',
  codes: ['untrained-layer'],
  description: 'Layers whose weights are indistinguishable from their initial random draw.',
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
        message: `All ${kernels.length} weight tensors are indistinguishable from fresh initializer draws of their sizes: this file most likely holds an untrained model.`,
        evidence: { untrained: atInit.length, trained: 0, biasesAllZero: kernels.filter((k) => k.biasAllZero).length },
      });
    }
    for (const k of atInit) {
      const layerName = k.layer?.name ?? k.tensor.layer;
      const frozen = k.layer?.trainable === false || k.tensor.trainable === false;
      const bias = k.biasAllZero ? '; its bias is still all zeros' : '';
      const label = k.match!.best.label;
      // A statistical test cannot tell a slightly trained tensor from an untouched draw: the verdict
      // is "indistinguishable", and the test's power against moderate training decides whether
      // an untouched-looking layer among trained ones is worth a warning.
      const power = trained > 0 && !frozen ? ctx.atInitPower(k) : undefined;
      const strong = power === undefined || power >= minWarningPower;
      const suspicious = trained > 0 && !frozen && strong;
      const head = `${k.tensor.name} is indistinguishable from a fresh ${label} draw of its size${bias}`;
      const size = k.match!.sampleSize;
      const powerText = power === undefined ? '' : `an update of ${Math.round(moderateUpdate * 100)}% of its norm in ${Math.round(power * 100)}% of simulated cases`;
      let message: string;
      if (suspicious) {
        message = `${head} (${power === undefined ? `${size} values` : `the test catches ${powerText}`}), while ${trained} other weight tensors were trained: is the layer frozen or cut off from the loss?`;
      } else if (trained > 0 && !frozen) {
        message = `${head}, but with ${size} values the test catches only ${powerText}, so it may have been trained a little like the ${trained} other weight tensors.`;
      } else {
        message = `${head}${frozen ? ' (the layer is not trainable)' : ''}.`;
      }
      out.push({
        severity: suspicious ? 'warning' : 'info',
        code: 'untrained-layer',
        layer: layerName || undefined,
        tensor: k.tensor.name,
        message,
        evidence: {
          initializer: k.match!.best.id,
          ks: ev(k.match!.untrainedEvidence.ks),
          ksCritical: ev(k.match!.untrainedEvidence.ksCritical),
          spectralRatio: ev(k.match!.untrainedEvidence.spectralRatio),
          biasAllZero: k.biasAllZero ?? null,
          trainable: k.layer?.trainable ?? k.tensor.trainable ?? null,
          otherTrained: trained,
          sampleSize: size,
          powerAtModerateUpdate: ev(power),
        },
      });
    }
    return out;
  },
};
