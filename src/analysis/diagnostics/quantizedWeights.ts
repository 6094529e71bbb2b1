/**
 * Rule `quantized-weights`: for tensors the file already stores quantized (TF.js uint8/uint16
 * affine, TFLite int8, float16 casts): the step, the representable range and what they imply.
 */
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev } from './format';
import { int8SafeSqnrDb } from '../precision';

/** Describes stored quantization per tensor. */
export const quantizedWeights: DiagnosticRule = {
  id: 'quantizedWeights',
  codes: ['quantized-weights'],
  description: 'Quantization the file already applied: step, range and implied noise.',
  run(ctx) {
    const out: Diagnostic[] = [];
    for (const [name, p] of ctx.precision) {
      const s = p.stored;
      if (!s) {
        continue;
      }
      const t = ctx.file.tensors.find((x) => x.name === name);
      out.push({
        severity: s.impliedSqnrDb !== null && s.impliedSqnrDb < int8SafeSqnrDb - 10 ? 'warning' : 'info',
        code: 'quantized-weights',
        layer: t ? ctx.layerOf(t)?.name : undefined,
        tensor: name,
        message: `${name}: ${s.implication}`,
        evidence: {
          storageDtype: s.storageDtype,
          scheme: s.scheme,
          step: ev(s.step),
          minStep: ev(s.minStep),
          rangeLow: ev(s.rangeLow),
          rangeHigh: ev(s.rangeHigh),
          levels: s.levels,
          stepOverStd: ev(s.stepOverStd),
          impliedSqnrDb: ev(s.impliedSqnrDb),
        },
      });
    }
    return out;
  },
};
