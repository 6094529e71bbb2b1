/**
 * Rule `constant-kernel`: a Dense or convolution kernel whose values are all equal. Every output
 * unit (column) then computes the same function of the input, and every input (row) is weighted
 * alike, so the units get the same gradient as long as the layer after them treats them alike too:
 * no random initializer produces it, and training cannot break the symmetry on its own. A warning,
 * info for the last kernel (its outputs are told apart by the loss).
 */
import type { KernelAnalysis, RuleContext } from './ruleContext';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';

/** The single value of a kernel whose finite values are all equal (at least 2 of them, no NaN/Inf), else undefined. */
export function constantValue(ctx: RuleContext, k: Pick<KernelAnalysis, 'tensor'>): number | undefined {
  const s = ctx.stats.get(k.tensor.name);
  if (s) {
    const finite = s.count - s.nanCount - s.posInfCount - s.negInfCount;
    return finite === s.count && finite >= 2 && s.min !== null && s.min === s.max ? s.min : undefined;
  }
  const sample = ctx.samples.get(k.tensor.name);
  if (!sample || sample.length < 2 || !Number.isFinite(sample[0]!)) {
    return undefined;
  }
  const v = sample[0]!;
  return sample.every((x) => x === v) ? v : undefined;
}

/** True for the kernels this rule judges: Dense and convolution kernels with at least 2 output units. */
function judged(k: KernelAnalysis): boolean {
  return k.tensor.role === 'kernel' && (k.fans.rule === 'dense' || k.fans.rule === 'conv') && (k.fans.kerasShape[k.fans.kerasShape.length - 1] ?? 0) >= 2;
}

/** True when a kernel is constant and the rule reports it (other initializer rules then skip it). */
export function isReportedConstant(ctx: RuleContext, k: KernelAnalysis): boolean {
  return judged(k) && constantValue(ctx, k) !== undefined;
}

/** Warns about Dense and convolution kernels whose values are all equal. */
export const constantKernel: DiagnosticRule = {
  id: 'constantKernel',
  codes: ['constant-kernel'],
  description: 'Dense or convolution kernels whose values are all equal: their units compute the same function.',
  run(ctx) {
    const out: Diagnostic[] = [];
    const kernels = ctx.kernels().filter((k) => k.tensor.role === 'kernel' && (k.fans.rule === 'dense' || k.fans.rule === 'conv'));
    kernels.forEach((k, i) => {
      const value = judged(k) ? constantValue(ctx, k) : undefined;
      if (value === undefined) {
        return;
      }
      const shape = k.fans.kerasShape;
      const units = shape[shape.length - 1]!;
      const inputs = shape[shape.length - 2]!;
      const conv = k.fans.rule === 'conv';
      const unitWord = conv ? 'filters' : 'units';
      const inputWord = conv ? 'input channels' : 'inputs';
      const layerName = k.layer?.name ?? k.tensor.layer;
      const next = kernels.slice(i + 1).find((n) => (n.layer?.name ?? n.tensor.layer) !== layerName);
      const nextValue = next ? constantValue(ctx, next) : undefined;
      const count = ctx.stats.get(k.tensor.name)?.count ?? shape.reduce((a, b) => a * b, 1);
      const head = `${k.tensor.name} is constant: all ${count} values are ${fmt(value)}, so its ${units} ${unitWord} compute the same function of their input`;
      // Units with different biases see the same weighted sum but are no longer the same function.
      const biasName = k.layer?.tensors.find((n) => ctx.file.tensors.find((t) => t.name === n)?.role === 'bias');
      const bias = biasName ? ctx.stats.get(biasName) : undefined;
      const biasVaries = bias !== undefined && bias.min !== null && bias.min !== bias.max;
      let message: string;
      if (biasVaries) {
        message = `${k.tensor.name} is constant: all ${count} values are ${fmt(value)}, so its ${units} ${unitWord} all see the same weighted sum of their input (${fmt(value)} x its sum) and differ only by their biases.`;
      } else if (!next) {
        message = `${head}; as the last layer its outputs are told apart only by the loss, and it passes the same gradient back to each of its ${inputs} ${inputWord}.`;
      } else if (nextValue !== undefined) {
        message = `${head} and, with the next kernel (${next.tensor.name}) constant too, get the same gradient: training never breaks the symmetry, so they cannot learn different features.`;
      } else {
        message = `${head} and get the same gradient except through the next layer's weights: the layer starts as ${units} copies of one ${conv ? 'filter' : 'unit'}.`;
      }
      out.push({
        // The last layer's outputs are told apart by the loss: nothing stays tied by it alone.
        severity: next ? 'warning' : 'info',
        code: 'constant-kernel',
        layer: layerName || undefined,
        tensor: k.tensor.name,
        message,
        evidence: { value: ev(value), count, units, inputs, biasVaries, nextKernel: next?.tensor.name ?? null, nextConstant: nextValue !== undefined },
      });
    });
    return out;
  },
};
