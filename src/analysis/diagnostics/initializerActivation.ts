/**
 * Rule `initializer-activation`: the initializer family (configured, or identified on an untrained
 * kernel) does not suit the layer's activation. Scale problems large enough to matter are
 * `initializer-scale`; this rule is advice.
 */
import { familyStd, recommendedFamily } from '../initializers';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';
import { scaleRatioBand } from './initializerScale';

const advice = {
  he: 'He initialization keeps the variance of ReLU-family activations constant (fan_in x Var(W) x 1/2 = 1)',
  glorot: 'Glorot initialization balances forward and backward variance for tanh, sigmoid, softmax and linear units',
  lecun: 'SELU self-normalizes only with lecun_normal weights',
} as const;

/** Advises when the initializer family does not match the activation. */
export const initializerActivation: DiagnosticRule = {
  id: 'initializerActivation',
  codes: ['initializer-activation'],
  description: 'Initializer family that does not suit the activation (He for ReLU, Glorot for tanh/sigmoid, LeCun for SELU).',
  run(ctx) {
    const out: Diagnostic[] = [];
    for (const k of ctx.kernels()) {
      if (k.activation === undefined || k.tensor.role !== 'kernel' || !k.moments) {
        continue;
      }
      const identified = k.match?.atInit ? k.match.best : undefined;
      const family = k.configured?.family ?? identified?.family;
      const label = k.configured?.label ?? identified?.label;
      if (!family || !label || !['he', 'glorot', 'lecun'].includes(family)) {
        continue;
      }
      const want = recommendedFamily(k.activation);
      if (family === want) {
        continue;
      }
      const rms = Math.sqrt(k.moments.std ** 2 + k.moments.mean ** 2);
      const ratio = rms / familyStd(want, k.fans.initFanIn, k.fans.initFanOut);
      if (ratio < scaleRatioBand.low || ratio > scaleRatioBand.high) {
        continue; // initializer-scale reports it.
      }
      const selu = want === 'lecun';
      out.push({
        severity: selu ? 'warning' : 'info',
        code: 'initializer-activation',
        layer: k.layer?.name,
        tensor: k.tensor.name,
        message: `${k.layer?.name ?? k.tensor.name} uses ${label} before ${k.activation}; ${advice[want]}. Its scale is ${fmt(ratio)}x the recommended one.`,
        evidence: { initializer: label, family, activation: k.activation, recommended: want, ratio: ev(ratio), source: k.configured ? 'config' : 'identified' },
      });
    }
    return out;
  },
};
