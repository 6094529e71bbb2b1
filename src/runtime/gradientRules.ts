/**
 * Vanishing/exploding gradient rules: verdicts on a gradient probe (probe.ts), as the same
 * `Diagnostic` objects the static rules produce, so the measured verdict can be shown next to the
 * data-free forecast (code 'signal-forecast'). All thresholds are in `gradientThresholds` and
 * documented in docs/diagnostics.md ("Measured gradients").
 *
 * Notation: g_l is the gradient L2 norm of the l-th layer with weights (input side first), w_l its
 * weight norm, L the number of such layers, lr the learning rate.
 * - gradient-non-finite (error): the first layer whose output or weights, else whose gradient, is NaN/Inf.
 * - gradient-vanishing (warning): g_1/g_L < vanishingRatio, or the geometric decay per layer
 *   (g_1/g_L)^(1/(L-1)) < decayPerLayer with L >= minLayersForDecay, or lr·g_1/w_1 < minUpdateRatio,
 *   or the activation std shrinks by more than activationGrowthPerLayer per layer from the input
 *   std through the hidden layers (at least two).
 * - gradient-exploding (warning): g_1/g_L > explodingRatio, or growth per layer > growthPerLayer,
 *   or max_l lr·g_l/w_l > maxUpdateRatio (one SGD step would move a layer by more than its own
 *   norm), or the activation std of the hidden layers grows by more than activationGrowthPerLayer
 *   per layer (this catches nets whose output saturates so hard that every gradient is 0).
 *   When every gradient is exactly 0 the norm-ratio rules do not apply. Layers off the loss's path
 *   (a second output head, which gets no gradient) are left out of every rule but the activation ones.
 * - activation-dead-relu / activation-saturated (warning): a layer with at least
 *   deadReluFraction of its units dead (on a batch of at least minDeadReluBatch samples) or
 *   saturatedFraction of its outputs in the flat tails.
 */
import type { Diagnostic } from '../analysis/diagnostics/diagnostic';
import type { LayerProbe, ProbeResult } from './probe';

/** Thresholds of the rules (dimensionless). */
export const gradientThresholds = {
  /** g_first/g_last below this: vanishing. */
  vanishingRatio: 1e-3,
  /** Geometric decay per layer below this (with enough layers): vanishing. */
  decayPerLayer: 0.5,
  /** Layers with weights needed before the per-layer decay/growth rules apply. */
  minLayersForDecay: 4,
  /** lr·g/w of the first layer below this: the first layer effectively does not learn. */
  minUpdateRatio: 1e-7,
  /** g_first/g_last above this: exploding. */
  explodingRatio: 1e3,
  /** Geometric growth per layer above this: exploding. */
  growthPerLayer: 2,
  /** lr·g/w above this in any layer: one step overwrites the layer (exploding). */
  maxUpdateRatio: 1,
  /** Activation std growth per layer above this (geometric, first to last): exploding signal. */
  activationGrowthPerLayer: 2,
  /** Fraction of dead ReLU units at or above this: warning. */
  deadReluFraction: 0.5,
  /**
   * Samples a batch needs before a unit that is 0 for all of them counts as dead: on fewer, a live
   * unit is 0 for the whole batch by chance (half the time on a batch of 1), so the rule stays silent.
   */
  minDeadReluBatch: 8,
  /** Fraction of saturated sigmoid/tanh outputs at or above this: warning. */
  saturatedFraction: 0.5,
} as const;

/** Codes produced by these rules. */
export const gradientCodes = ['gradient-non-finite', 'gradient-vanishing', 'gradient-exploding', 'activation-dead-relu', 'activation-saturated'] as const;

function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(4)) : v;
}

/** Runs every gradient rule on a probe result. */
export function gradientDiagnostics(probe: ProbeResult, thresholds = gradientThresholds): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (probe.firstNonFiniteLayer !== undefined) {
    const layer = probe.layers.find((l) => l.layer === probe.firstNonFiniteLayer);
    const where = layer?.nonFiniteWeight ? 'its weights' : layer?.nonFiniteActivation ? 'its output' : 'its gradient';
    out.push({
      severity: 'error',
      code: 'gradient-non-finite',
      layer: probe.firstNonFiniteLayer,
      message: `Non-finite values (NaN/Inf) start at layer '${probe.firstNonFiniteLayer}' (${where}); every layer after it and every gradient before it is unusable.`,
      evidence: { depth: layer?.depth ?? null, loss: probe.loss, nonFiniteWeight: layer?.nonFiniteWeight ?? false },
    });
    return out; // norms are meaningless once values are NaN
  }
  const weighted = probe.layers.filter((l): l is LayerProbe & { gradNorm: number } => l.hasWeights && l.gradNorm !== null);
  const first = weighted[0];
  const last = weighted[weighted.length - 1];
  if (first && last && weighted.length >= 2) {
    const n = weighted.length;
    // All-zero gradients (e.g. a saturated softmax under clipped cross-entropy) give no ratio.
    const allZero = weighted.every((l) => l.gradNorm === 0);
    const ratio = allZero ? 1 : last.gradNorm > 0 ? first.gradNorm / last.gradNorm : Infinity;
    const perLayer = ratio > 0 && Number.isFinite(ratio) ? ratio ** (1 / (n - 1)) : ratio;
    const firstUpdate = first.gradWeightRatio !== null ? probe.learningRate * first.gradWeightRatio : null;
    const updates = weighted.map((l) => (l.gradWeightRatio !== null ? probe.learningRate * l.gradWeightRatio : 0));
    const maxUpdate = Math.max(...updates);
    const maxUpdateLayer = weighted[updates.indexOf(maxUpdate)]!;
    // The input, then hidden layers only: the output activation (softmax, sigmoid) is bounded whatever comes in.
    const actStd = [probe.inputStd ?? 0, ...probe.layers.filter((l) => l.hasWeights && l !== last && !l.offLossPath).map((l) => l.activationStd ?? 0)];
    const actGrowth = actStd.length >= 2 && actStd[0]! > 0 ? (actStd[actStd.length - 1]! / actStd[0]!) ** (1 / (actStd.length - 1)) : 1;
    const evidence = {
      layersWithWeights: n,
      firstToLastRatio: round(ratio),
      perLayerFactor: round(perLayer),
      firstGradNorm: round(first.gradNorm),
      lastGradNorm: round(last.gradNorm),
      firstUpdateRatio: firstUpdate === null ? null : round(firstUpdate),
      maxUpdateRatio: round(maxUpdate),
      activationGrowthPerLayer: round(actGrowth),
      learningRate: probe.learningRate,
      allGradientsZero: allZero,
    };
    const byRatio = ratio < thresholds.vanishingRatio || (n >= thresholds.minLayersForDecay && perLayer < thresholds.decayPerLayer);
    const byUpdate = !allZero && firstUpdate !== null && firstUpdate < thresholds.minUpdateRatio;
    const byActivation = actStd.length >= 3 && actGrowth < 1 / thresholds.activationGrowthPerLayer;
    const vanishing = byRatio || byUpdate || byActivation;
    const exploding =
      ratio > thresholds.explodingRatio ||
      (n >= thresholds.minLayersForDecay && perLayer > thresholds.growthPerLayer) ||
      maxUpdate > thresholds.maxUpdateRatio ||
      (actStd.length >= thresholds.minLayersForDecay + 1 && actGrowth > thresholds.activationGrowthPerLayer);
    if (vanishing) {
      out.push({
        severity: 'warning',
        code: 'gradient-vanishing',
        layer: first.layer,
        message: byActivation && ratio >= thresholds.vanishingRatio
          ? `The signal vanishes: activations shrink x${fmt(actGrowth)} per layer from the input, so the layers' outputs and gradients carry almost nothing.`
          : byRatio
            ? `Gradients vanish toward the input: layer '${first.layer}' gets ${fmt(ratio)}x the gradient norm of '${last.layer}' (x${fmt(perLayer)} per layer), so the first layers barely learn.`
            : `The first layer barely learns: one SGD step at lr=${probe.learningRate} would change layer '${first.layer}' by only ${fmt(firstUpdate ?? 0)}x its own norm (below ${fmt(thresholds.minUpdateRatio)}).`,
        evidence,
      });
    }
    if (exploding) {
      const why =
        maxUpdate > thresholds.maxUpdateRatio
          ? `one SGD step at lr=${probe.learningRate} would change layer '${maxUpdateLayer.layer}' by ${fmt(maxUpdate)}x its own norm`
          : actGrowth > thresholds.activationGrowthPerLayer
            ? `activations grow x${fmt(actGrowth)} per layer`
            : `layer '${first.layer}' gets ${fmt(ratio)}x the gradient norm of '${last.layer}'`;
      const zeroNote = allZero ? ' (the gradients are all 0: the output saturates, so the loss no longer trains the net)' : '';
      out.push({
        severity: 'warning',
        code: 'gradient-exploding',
        layer: maxUpdate > thresholds.maxUpdateRatio ? maxUpdateLayer.layer : first.layer,
        message: `Gradients explode: ${why}${zeroNote}.`,
        evidence,
      });
    }
  }
  for (const l of probe.layers) {
    if (l.deadReluFraction !== undefined && l.deadReluFraction >= thresholds.deadReluFraction && probe.batchSize >= thresholds.minDeadReluBatch) {
      out.push({
        severity: 'warning',
        code: 'activation-dead-relu',
        layer: l.layer,
        message: `${Math.round(l.deadReluFraction * 100)}% of the ReLU units of '${l.layer}' output 0 for the whole batch; they pass no gradient.`,
        evidence: { deadReluFraction: round(l.deadReluFraction), batchSize: probe.batchSize },
      });
    }
    if (l.saturatedFraction !== undefined && l.saturatedFraction >= thresholds.saturatedFraction) {
      out.push({
        severity: 'warning',
        code: 'activation-saturated',
        layer: l.layer,
        message: `${Math.round(l.saturatedFraction * 100)}% of the ${l.activation ?? ''} outputs of '${l.layer}' sit in the flat tails, where the derivative is near 0.`,
        evidence: { saturatedFraction: round(l.saturatedFraction), batchSize: probe.batchSize },
      });
    }
  }
  return out;
}

function fmt(v: number): string {
  return !Number.isFinite(v) ? String(v) : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(3);
}
