/**
 * Rule `initializer-match`: names the Keras/TF.js initializer each kernel was drawn from (std ratio
 * and KS distance against every candidate at its expected scale) and says whether the kernel is
 * still at that draw or has been trained away from it.
 */
import { beyondBoundTolerance, recognizable, spectralTrainedRatio } from '../initializers';
import { isReportedConstant } from './constantKernel';
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';

/** Reports the identified initializer of every sampled kernel. */
export const initializerMatch: DiagnosticRule = {
  id: 'initializerMatch',
  codes: ['initializer-match'],
  description: 'Which initializer each kernel was drawn from, and whether it is still at that draw.',
  run(ctx) {
    const out: Diagnostic[] = [];
    for (const k of ctx.kernels()) {
      if (k.foldedNormalization) {
        out.push({
          severity: 'info',
          code: 'initializer-match',
          layer: k.layer?.name,
          tensor: k.tensor.name,
          message: `${k.tensor.name} has ${k.foldedNormalization} folded in by the converter: its values are scaled by the normalization and are not compared with initializers.`,
          evidence: { foldedNormalization: k.foldedNormalization, atInit: false },
        });
        continue;
      }
      const m = k.match;
      // A constant kernel is reported by constant-kernel: no random initializer drew it.
      if (!m || isReportedConstant(ctx, k)) {
        continue;
      }
      const b = m.best;
      const fit = `std ratio ${fmt(b.stdRatio)}, KS ${fmt(b.ks)}`;
      const equivalents = m.equivalent.length ? ` (same distribution as ${m.equivalent.join(', ')} for these fans)` : '';
      const e = m.untrainedEvidence;
      let message: string;
      if (m.atInit) {
        message = `${k.tensor.name} matches ${b.label}${equivalents} (${fit}): indistinguishable from a fresh draw of its size.`;
      } else if (!recognizable(b, e.ksCritical, e.stdTolerance)) {
        message = `${k.tensor.name} no longer matches any standard initializer (closest: ${b.label}, ${fit}): trained well away from its initial draw, or set by other means.`;
      } else {
        const why: string[] = [];
        if (e.spectralRatio !== null && e.spectralRatio > spectralTrainedRatio) {
          why.push(`largest singular value ${fmt(e.spectralRatio)}x the random-matrix edge`);
        }
        if (e.ks > e.ksCritical) {
          why.push(`KS ${fmt(e.ks)} > ${fmt(e.ksCritical)} critical`);
        }
        if (e.meanZ > 4.5) {
          why.push(`mean ${fmt(e.meanZ)} standard errors from 0`);
        }
        if (e.orthogonalityError !== null && b.distribution === 'orthogonal') {
          why.push(`no longer orthogonal (Gram error ${fmt(e.orthogonalityError)})`);
        }
        if (b.beyondBound > beyondBoundTolerance) {
          why.push(`${fmt(b.beyondBound * 100)}% of values beyond the initializer's bound`);
        }
        if (Math.abs(Math.log(b.stdRatio)) > e.stdTolerance) {
          why.push(`std ratio ${fmt(b.stdRatio)} outside the ${fmt(Math.exp(-e.stdTolerance))}..${fmt(Math.exp(e.stdTolerance))} a draw of this size shows`);
        }
        if (e.biasMoved) {
          why.push('its bias is no longer at its initial zeros');
        }
        message = `${k.tensor.name} was most likely initialized with ${b.label}${equivalents} (${fit}) and has been trained since (${why.join('; ') || 'moved from the draw'}).`;
      }
      const runner = m.runnersUp[0];
      out.push({
        severity: 'info',
        code: 'initializer-match',
        layer: k.layer?.name,
        tensor: k.tensor.name,
        message,
        evidence: {
          candidate: b.id,
          label: b.label,
          family: b.family,
          distribution: b.distribution,
          expectedStd: ev(b.expectedStd),
          observedStd: ev(m.observedStd),
          stdRatio: ev(b.stdRatio),
          ks: ev(b.ks),
          ksCritical: ev(e.ksCritical),
          beyondBound: ev(b.beyondBound),
          kurtosis: ev(m.observedKurtosis),
          spectralRatio: ev(e.spectralRatio),
          orthogonalityError: ev(e.orthogonalityError),
          meanZ: ev(e.meanZ),
          stdTolerance: ev(e.stdTolerance),
          biasMoved: e.biasMoved,
          atInit: m.atInit,
          equivalent: m.equivalent.join(',') || null,
          runnerUp: runner?.id ?? null,
          runnerUpKs: ev(runner?.ks),
          configured: k.configured?.label ?? null,
          fanIn: k.fans.initFanIn,
          fanOut: k.fans.initFanOut,
          fanRule: k.fans.rule,
          sampleSize: m.sampleSize,
        },
      });
    }
    return out;
  },
};
