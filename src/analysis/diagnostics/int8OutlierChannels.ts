/**
 * Rule `int8-outlier-channels`: a few output channels with a much larger range than the rest set
 * the per-tensor int8 scale and waste the grid for every other channel (low SQNR or many values
 * rounded to 0); per-channel scales fix it.
 */
import { int8Safe } from '../precision';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt, pct } from './format';

/** Flags per-tensor int8 ruined by outlier channels. */
export const int8OutlierChannels: DiagnosticRule = {
  id: 'int8OutlierChannels',
  codes: ['int8-outlier-channels'],
  description: 'Outlier channels that ruin a per-tensor int8 scale.',
  run(ctx) {
    const out: Diagnostic[] = [];
    for (const [name, p] of ctx.precision) {
      const oc = p.outlierChannels;
      const pc = p.int8PerChannel;
      if (!oc || oc.count === 0 || !pc || int8Safe(p.int8PerTensor) || !int8Safe(pc)) {
        continue;
      }
      const pt = p.int8PerTensor.sqnrDb;
      const t = ctx.file.tensors.find((x) => x.name === name);
      out.push({
        severity: 'warning',
        code: 'int8-outlier-channels',
        layer: t ? ctx.layerOf(t)?.name : undefined,
        tensor: name,
        message:
          `${name}: ${oc.count} of ${pc.channels} output channels have a range >= 4x the median channel's (worst ${fmt(oc.worstRatio)}x, channels ${oc.indices.join(', ')}${oc.count > oc.indices.length ? ', ...' : ''}); ` +
          `per-tensor int8 rounds ${pct(p.int8PerTensor.zeroedFraction)} of the values to 0 (SQNR ${pt === null ? 'lossless' : `${fmt(pt)} dB`}), per channel ${pct(pc.zeroedFraction)} (SQNR ${pc.sqnrDb === null ? 'lossless' : `${fmt(pc.sqnrDb)} dB`}). Quantize this tensor per channel.`,
        evidence: {
          outlierChannels: oc.count,
          channels: pc.channels,
          worstRatio: ev(oc.worstRatio),
          perTensorSqnrDb: ev(pt),
          perChannelSqnrDb: ev(pc.sqnrDb),
          perTensorZeroed: ev(p.int8PerTensor.zeroedFraction),
          perChannelZeroed: ev(pc.zeroedFraction),
        },
      });
    }
    return out;
  },
};
