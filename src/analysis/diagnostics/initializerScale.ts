/**
 * Rule `initializer-scale`: a kernel whose scale is far from what its layer's activation needs
 * (He for the ReLU family, Glorot for tanh/sigmoid/softmax/linear, LeCun normal for SELU). The
 * classic mistake, a small fixed-scale uniform init such as U(-0.01, 0.01) before sigmoid or ReLU
 * layers, is an error while the layer is untrained.
 */
import { activationConstants } from '../signalPropagation';
import { familyStd, recommendedFamily } from '../initializers';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';

/** Scale ratios outside [low, high] are flagged. */
export const scaleRatioBand = { low: 0.25, high: 4 } as const;

const familyLabel = { he: 'he_normal/he_uniform', glorot: 'glorot_uniform/glorot_normal', lecun: 'lecun_normal' } as const;

function reasonSmall(activation: string, gain: number): string {
  const a = activation.toLowerCase();
  if (a === 'sigmoid' || a === 'hard_sigmoid') {
    return `pre-activations stay near 0, so every sigmoid unit outputs about 0.5 whatever the input and passes back at most 1/4 of an already tiny gradient (forward gain ${fmt(gain)} per layer): the layer barely learns`;
  }
  if (a === 'softmax') {
    return `logits stay near 0, so the softmax is almost uniform and the gradients reaching earlier layers are scaled by this tiny kernel (gain ${fmt(gain)})`;
  }
  if (a === 'selu') {
    return `SELU only self-normalizes with lecun_normal weights (std sqrt(1/fan_in)); at this scale activations shrink by ${fmt(gain)} per layer`;
  }
  return `each such layer multiplies the activation variance by fan_in x Var(W) x c(${a}) = ${fmt(gain)}, so signals and gradients vanish with depth`;
}

/** Flags kernels whose std is far from the activation-appropriate initializer's. */
export const initializerScale: DiagnosticRule = {
  id: 'initializerScale',
  codes: ['initializer-scale'],
  description: "Kernel scale far from the activation's recommended initializer (vanishing or exploding signals).",
  run(ctx) {
    const out: Diagnostic[] = [];
    for (const k of ctx.kernels()) {
      if (k.activation === undefined || !k.moments || (k.tensor.role !== 'kernel' && k.tensor.role !== 'depthwise_kernel' && k.tensor.role !== 'pointwise_kernel')) {
        continue;
      }
      if (k.fans.rule === 'attention-projection' || k.fans.rule === 'attention-output') {
        continue;
      }
      const family = recommendedFamily(k.activation);
      const expected = familyStd(family, k.fans.initFanIn, k.fans.initFanOut);
      const rms = Math.sqrt(k.moments.std ** 2 + k.moments.mean ** 2);
      const ratio = expected > 0 ? rms / expected : 1;
      if (ratio >= scaleRatioBand.low && ratio <= scaleRatioBand.high) {
        continue;
      }
      const small = ratio < scaleRatioBand.low;
      const untrained = k.match ? k.match.atInit : true;
      const c = activationConstants(k.activation);
      const gain = k.fans.signalFanIn * rms * rms * c.forward;
      const fans = family === 'glorot' ? `fan_in ${k.fans.initFanIn}, fan_out ${k.fans.initFanOut}` : `fan_in ${k.fans.initFanIn}`;
      const tiny = k.match && (k.match.best.family === 'tiny_uniform' || k.match.best.family === 'tiny_normal' || k.match.best.family === 'random_uniform' || k.match.best.family === 'random_normal');
      const source = k.configured?.label ?? (k.match && k.match.best.ks < 0.12 ? k.match.best.label : undefined);
      const fixed = tiny && source ? ` ${source} is a fixed scale that ignores fan_in.` : '';
      // Too small: error at the initial draw, warning once trained. Too large: warning at the draw;
      // trained weights legitimately grow (unregularized-growth and the forecast judge that).
      let severity: Diagnostic['severity'] = small ? (untrained ? 'error' : 'warning') : untrained ? 'warning' : 'info';
      let suffix = '';
      if (k.followedByNormalization) {
        severity = 'info';
        suffix = ` ${k.followedByNormalization} normalizes the output, which cancels most of the effect.`;
      }
      const what = small ? reasonSmall(k.activation, gain) : `activations grow by fan_in x Var(W) x c(${k.activation}) = ${fmt(gain)} per such layer and can saturate or explode`;
      out.push({
        severity,
        code: 'initializer-scale',
        layer: k.layer?.name,
        tensor: k.tensor.name,
        message: `${k.tensor.name}: std ${fmt(rms)} is ${fmt(ratio)}x ${familyLabel[family]} (std ${fmt(expected)}) for ${fans} before ${k.activation}${untrained ? '' : ' (trained)'}: ${what}.${fixed} Use ${family === 'he' ? 'he_normal' : family === 'lecun' ? 'lecun_normal' : 'glorot_uniform'}.${suffix}`,
        evidence: {
          observedStd: ev(rms),
          expectedStd: ev(expected),
          ratio: ev(ratio),
          recommended: family,
          activation: k.activation,
          fanIn: k.fans.initFanIn,
          fanOut: k.fans.initFanOut,
          forwardGain: ev(gain),
          atInit: untrained,
          identified: k.match?.best.id ?? null,
          configured: k.configured?.label ?? null,
          followedByNormalization: k.followedByNormalization ?? null,
        },
      });
    }
    return out;
  },
};
