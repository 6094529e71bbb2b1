/**
 * Rule `fp16-underflow`: a noticeable share of values that float16 flushes to zero or keeps only
 * as subnormals (|x| < 2^-14 = 6.1e-5, fewer significant bits).
 */
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt, pct } from './format';

/** Share of values (flushed + subnormal) from which the rule reports. */
export const fp16UnderflowShare = 0.01;

/** Flags tensors that lose small values in float16. */
export const fp16Underflow: DiagnosticRule = {
  id: 'fp16Underflow',
  codes: ['fp16-underflow'],
  description: 'Values that float16 flushes to zero or stores as subnormals.',
  run(ctx) {
    const out: Diagnostic[] = [];
    for (const [name, p] of ctx.precision) {
      if (p.count === 0) {
        continue;
      }
      const share = (p.fp16.underflowCount + p.fp16.subnormalCount) / p.count;
      if (share < fp16UnderflowShare) {
        continue;
      }
      const t = ctx.file.tensors.find((x) => x.name === name);
      out.push({
        severity: 'info',
        code: 'fp16-underflow',
        layer: t ? ctx.layerOf(t)?.name : undefined,
        tensor: name,
        message: `${name}: in float16, ${p.fp16.underflowCount} values flush to zero and ${p.fp16.subnormalCount} become subnormal (${pct(share)} of the tensor, |x| < 6.1e-5); relative L2 error ${fmt(p.fp16.relativeL2Error)} (bfloat16: ${fmt(p.bf16.relativeL2Error)}).`,
        evidence: {
          underflowCount: p.fp16.underflowCount,
          subnormalCount: p.fp16.subnormalCount,
          share: ev(share),
          fp16RelativeError: ev(p.fp16.relativeL2Error),
          bf16RelativeError: ev(p.bf16.relativeL2Error),
        },
      });
    }
    return out;
  },
};
