/**
 * Every diagnostic rule, in reporting order. Adding a diagnostic: one rule file in this folder and
 * one line here.
 */
import { constantKernel } from './constantKernel';
import type { DiagnosticRule } from './diagnostic';
import { fp16Overflow } from './fp16Overflow';
import { fp16Underflow } from './fp16Underflow';
import { initializerActivation } from './initializerActivation';
import { initializerConfigMismatch } from './initializerConfigMismatch';
import { initializerMatch } from './initializerMatch';
import { initializerScale } from './initializerScale';
import { int8OutlierChannels } from './int8OutlierChannels';
import { nonFiniteValues } from './nonFiniteValues';
import { precisionAdvice } from './precisionAdvice';
import { quantizedWeights } from './quantizedWeights';
import { regularizationPenalty } from './regularizationPenalty';
import { regularizationSummary } from './regularizationSummary';
import { signalForecast } from './signalForecast';
import { trainValidationGap } from './trainValidationGap';
import { unregularizedGrowth } from './unregularizedGrowth';
import { untrainedLayer } from './untrainedLayer';

/** The registered rules. */
export const rules: readonly DiagnosticRule[] = [
  nonFiniteValues,
  initializerScale,
  constantKernel,
  initializerMatch,
  initializerConfigMismatch,
  initializerActivation,
  untrainedLayer,
  signalForecast,
  regularizationPenalty,
  regularizationSummary,
  trainValidationGap,
  unregularizedGrowth,
  fp16Overflow,
  fp16Underflow,
  int8OutlierChannels,
  quantizedWeights,
  precisionAdvice,
];
