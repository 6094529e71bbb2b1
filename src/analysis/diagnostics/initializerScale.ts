/**
 * Rule `initializer-scale`: a kernel whose scale is far from what its layer's activation needs
 * (He for the ReLU family, Glorot for tanh/sigmoid/softmax/linear, LeCun normal for SELU). The
 * classic mistake, a small fixed-scale uniform init such as U(-0.01, 0.01) before sigmoid or ReLU
 * layers, is an error while the layer is untrained; a fan-based initializer that is only too small
 * for one layer's fans is a warning when the forecast vanishes, else info.
 */
import { activationConstants, signalBand } from '../signalPropagation';
import { familyStd, recommendedFamily } from '../initializers';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';
import { judgeForecast } from './signalForecast';

/** Families of initializers whose scale does not depend on the fans. */
const fixedScaleFamilies = new Set(['tiny_uniform', 'tiny_normal', 'random_uniform', 'random_normal', 'truncated_normal', 'custom_uniform']);

/** Scale ratios outside [low, high] are flagged. */
export const scaleRatioBand = { low: 0.25, high: 4 } as const;

const familyLabel = { he: 'he_normal/he_uniform', glorot: 'glorot_uniform/glorot_normal', lecun: 'lecun_normal' } as const;

function reasonSmall(activation: string, gain: number, compounding: boolean): string {
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
  return compounding
    ? `each such layer multiplies the activation variance by fan_in x Var(W) x c(${a}) = ${fmt(gain)}, so signals and gradients vanish with depth`
    : `this layer multiplies the activation variance by fan_in x Var(W) x c(${a}) = ${fmt(gain)}`;
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
      // Attention projections have their own scale; a kernel with a batch normalization folded in
      // carries the normalization's scale, not an initializer's.
      if (k.fans.rule === 'attention-projection' || k.fans.rule === 'attention-output' || k.foldedNormalization) {
        continue;
      }
      const family = recommendedFamily(k.activation);
      // A depthwise kernel's output channel sees kh x kw inputs of one channel, which is the fan-in
      // the signal (and the gain below) depends on; Keras's initializers divide by kh x kw x C.
      const depthwise = k.fans.rule === 'depthwise';
      const fanIn = depthwise ? k.fans.signalFanIn : k.fans.initFanIn;
      const fanOut = depthwise ? k.fans.signalFanOut : k.fans.initFanOut;
      const expected = familyStd(family, fanIn, fanOut);
      // Root mean square (std and mean together: what the signal's variance depends on); an
      // initializer's draw has mean 0, so its RMS is its std.
      const rms = Math.sqrt(k.moments.std ** 2 + k.moments.mean ** 2);
      const ratio = expected > 0 ? rms / expected : 1;
      if (ratio >= scaleRatioBand.low && ratio <= scaleRatioBand.high) {
        continue;
      }
      const small = ratio < scaleRatioBand.low;
      const untrained = k.match ? k.match.atInit : true;
      const c = activationConstants(k.activation);
      const gain = k.fans.signalFanIn * rms * rms * c.forward;
      const fans = (family === 'glorot' ? `fan_in ${fanIn}, fan_out ${fanOut}` : `fan_in ${fanIn}`) + (depthwise ? ' (kh x kw: one input channel per output channel)' : '');
      // The initializer that drew the kernel: the configured one, else the identified one when it fits.
      const source = k.configured
        ? { label: k.configured.label, fixedScale: !k.configured.fanBased && k.configured.family !== 'constant' }
        : k.match && k.match.best.ks < 0.12
          ? { label: k.match.best.label, fixedScale: fixedScaleFamilies.has(k.match.best.family) }
          : undefined;
      const fixed = source?.fixedScale ? ` ${source.label} is a fixed scale that ignores fan_in.` : '';
      const named = family === 'he' ? 'he_normal' : family === 'lecun' ? 'lecun_normal' : 'glorot_uniform';
      const kerasStd = familyStd(family, k.fans.initFanIn, k.fans.initFanOut);
      const advice =
        depthwise && Math.abs(kerasStd / expected - 1) > 0.01
          ? `Keras's ${named} divides by fan_in ${k.fans.initFanIn} (kh x kw x channels) for a depthwise kernel, which gives std ${fmt(kerasStd)}: use VarianceScaling(scale=${fmt(expected * expected * k.fans.initFanIn)}, mode='fan_in') for std ${fmt(expected)}.`
          : `Use ${named}.`;
      // Too small at the initial draw: an error when the scale is fixed (or unknown), since the
      // same tiny scale in every layer compounds with depth; a fan-based initializer that is only
      // too small for this layer's fans and activation (glorot_uniform before ReLU in a first layer
      // that widens 3 -> 64) shrinks the signal once: a warning when the forecast chain vanishes,
      // else info. Warning once trained. Too large: warning at the draw; trained weights
      // legitimately grow (unregularized-growth and the forecast judge that).
      const oneOff = small && untrained && source !== undefined && !source.fixedScale;
      // The forecast's own verdict (signal-forecast): renormalized layers and unjudged models do not count.
      const forecast = ctx.forecast();
      const verdict = judgeForecast(forecast);
      const chainVanishes = verdict.judged && verdict.forwardIndex >= 0 && forecast.layers[verdict.forwardIndex]!.cumulativeForward < signalBand.lower;
      const inBand = verdict.judged && verdict.forwardIndex < 0;
      let severity: Diagnostic['severity'] = oneOff ? (chainVanishes ? 'warning' : 'info') : small ? (untrained ? 'error' : 'warning') : untrained ? 'warning' : 'info';
      let suffix = oneOff && inBand ? ' The forecast keeps the signal within the healthy band, so this is a one-off shrink, not a compounding one.' : '';
      if (k.followedByNormalization) {
        severity = 'info';
        suffix += ` ${k.followedByNormalization} normalizes the output, which cancels most of the effect.`;
      }
      const what = small ? reasonSmall(k.activation, gain, !oneOff || chainVanishes) : `activations grow by fan_in x Var(W) x c(${k.activation}) = ${fmt(gain)} per such layer and can saturate or explode`;
      out.push({
        severity,
        code: 'initializer-scale',
        layer: k.layer?.name,
        tensor: k.tensor.name,
        message: `${k.tensor.name}: RMS ${fmt(rms)} is ${fmt(ratio)}x ${familyLabel[family]} (std ${fmt(expected)}) for ${fans} before ${k.activation}${untrained ? '' : ' (trained)'}: ${what}.${fixed} ${advice}${suffix}`,
        evidence: {
          observedRms: ev(rms),
          observedStd: ev(k.moments.std),
          observedMean: ev(k.moments.mean),
          expectedStd: ev(expected),
          ratio: ev(ratio),
          recommended: family,
          activation: k.activation,
          fanIn,
          fanOut,
          initializerFanIn: k.fans.initFanIn,
          forwardGain: ev(gain),
          atInit: untrained,
          fixedScale: source ? source.fixedScale : null,
          chainVanishes,
          identified: k.match?.best.id ?? null,
          configured: k.configured?.label ?? null,
          followedByNormalization: k.followedByNormalization ?? null,
        },
      });
    }
    return out;
  },
};
