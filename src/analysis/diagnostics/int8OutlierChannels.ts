/**
 * Rule `int8-outlier-channels`: a few output channels with a much larger range than the rest set
 * the per-tensor int8 scale and waste the grid for every other channel; per-channel scales fix it.
 */
import { int8SafeSqnrDb } from '../precision';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';

/** Flags per-tensor int8 ruined by outlier channels. */
export const int8OutlierChannels: DiagnosticRule = {
  id: 'int8OutlierChannels',
  codes: ['int8-outlier-channels'],
  description: 'Outlier channels that ruin a per-tensor int8 scale.',
  run(ctx) {
    const out: Diagnostic[] = [];
    for (const [name, p] of ctx.precision) {
      const oc = p.outlierChannels;
      const pt = p.int8PerTensor.sqnrDb;
      const pc = p.int8PerChannel?.sqnrDb;
      if (!oc || oc.count === 0 || pt === null || pt >= int8SafeSqnrDb || pc === undefined) {
        continue;
      }
      const pcValue = pc === null ? Infinity : pc;
      if (pcValue < pt + 6) {
        continue;
      }
      const t = ctx.file.tensors.find((x) => x.name === name);
      out.push({
        severity: 'warning',
        code: 'int8-outlier-channels',
        layer: t ? ctx.layerOf(t)?.name : undefined,
        tensor: name,
        message: `${name}: ${oc.count} of ${p.int8PerChannel!.channels} output channels have a range >= 4x the median channel's (worst ${fmt(oc.worstRatio)}x, channels ${oc.indices.join(', ')}${oc.count > oc.indices.length ? ', ...' : ''}); per-tensor int8 reaches only ${fmt(pt)} dB SQNR vs ${pc === null ? 'lossless' : `${fmt(pc)} dB`} per channel. Quantize this tensor per channel.`,
        evidence: { outlierChannels: oc.count, channels: p.int8PerChannel!.channels, worstRatio: ev(oc.worstRatio), perTensorSqnrDb: ev(pt), perChannelSqnrDb: pc === null ? null : ev(pc) },
      });
    }
    return out;
  },
};
