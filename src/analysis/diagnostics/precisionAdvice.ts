/**
 * Rule `precision-advice`: layers whose weights should stay float32 (float16 overflows or loses
 * too much, and int8 would be too noisy). Layers that are safe in a smaller format get no finding;
 * their recommendation is in the precision report.
 */
import { int8MaxZeroedFraction, int8SafeSqnrDb, type QuantReport } from '../precision';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt, pct } from './format';

/** Why an int8 scheme does not keep a tensor: too noisy, or too many values rounded to 0. */
function int8Failure(r: QuantReport): string {
  return r.sqnrDb !== null && r.sqnrDb < int8SafeSqnrDb
    ? `reaches ${fmt(r.sqnrDb)} dB (< ${int8SafeSqnrDb} dB)`
    : `rounds ${pct(r.zeroedFraction)} of the values to 0 (> ${pct(int8MaxZeroedFraction)})`;
}

/** Names layers that must keep float32. */
export const precisionAdvice: DiagnosticRule = {
  id: 'precisionAdvice',
  codes: ['precision-advice'],
  description: 'Layers that should keep float32 storage.',
  run(ctx) {
    const out: Diagnostic[] = [];
    for (const [name, p] of ctx.precision) {
      if (p.recommendation !== 'keep-fp32' || p.stored || p.count === 0) {
        continue;
      }
      const t = ctx.file.tensors.find((x) => x.name === name);
      if (!t || t.group !== 'model') {
        continue;
      }
      out.push({
        severity: 'info',
        code: 'precision-advice',
        layer: ctx.layerOf(t)?.name,
        tensor: name,
        // int8 is only weighed for tensors with a channel axis (kernels); for those it failed both ways.
        message: `${name}: keep float32 — float16 ${p.fp16.overflowCount ? `overflows ${p.fp16.overflowCount} values` : `has relative error ${fmt(p.fp16.relativeL2Error)}`}${p.int8PerChannel ? ` and int8 ${int8Failure(p.int8PerTensor)} per tensor, ${int8Failure(p.int8PerChannel)} per channel` : ''}.`,
        evidence: {
          fp16Overflow: p.fp16.overflowCount,
          fp16RelativeError: ev(p.fp16.relativeL2Error),
          int8PerTensorSqnrDb: ev(p.int8PerTensor.sqnrDb),
          int8PerChannelSqnrDb: ev(p.int8PerChannel?.sqnrDb),
        },
      });
    }
    return out;
  },
};
