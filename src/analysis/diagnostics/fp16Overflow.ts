/**
 * Rule `fp16-overflow`: values a float16 export would turn into +-Infinity (|x| >= 65520 rounds
 * past the largest float16, 65504).
 */
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';

/** Flags tensors that overflow float16. */
export const fp16Overflow: DiagnosticRule = {
  id: 'fp16Overflow',
  codes: ['fp16-overflow'],
  description: 'Values that overflow float16 (|x| >= 65520, which rounds past the largest float16, 65504).',
  run(ctx) {
    const out: Diagnostic[] = [];
    for (const [name, p] of ctx.precision) {
      if (p.fp16.overflowCount === 0) {
        continue;
      }
      const t = ctx.file.tensors.find((x) => x.name === name);
      out.push({
        severity: 'warning',
        code: 'fp16-overflow',
        layer: t ? ctx.layerOf(t)?.name : undefined,
        tensor: name,
        message: `${name}: ${p.fp16.overflowCount} of ${p.count} values have |x| >= 65520, which rounds past the largest float16 (65504; largest |x| here ${fmt(p.absMax)}); a float16 export turns them into Infinity. Keep this tensor in float32 or use bfloat16.`,
        evidence: { overflowCount: p.fp16.overflowCount, count: p.count, absMax: ev(p.absMax), bf16RelativeError: ev(p.bf16.relativeL2Error) },
      });
    }
    return out;
  },
};
