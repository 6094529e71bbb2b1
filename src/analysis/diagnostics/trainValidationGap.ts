/**
 * Rule `train-validation-gap`: when the checkpoint carries its training metrics (Weightscope's own
 * training runs and examples store `{loss, val_loss, ...}` in the TF.js `userDefinedMetadata`), the gap
 * between validation and training loss, read next to the configured regularization.
 * Warning when val_loss > 3 x loss and val_loss - loss > 0.1 (overfitting); info otherwise.
 */
import type { Diagnostic, DiagnosticRule } from './diagnostic';
import { ev, fmt } from './format';

/** Validation/training loss ratio above which the gap is called overfitting. */
export const overfitLossRatio = 3;
/** Minimum absolute loss gap for the warning (tiny losses make large ratios meaningless). */
export const overfitMinGap = 0.1;

/** Training metrics stored with the weights, when present. */
function storedMetrics(metadata: Readonly<Record<string, unknown>>): { loss: number; valLoss: number; source: string } | undefined {
  const udm = metadata['userDefinedMetadata'];
  const ws = udm && typeof udm === 'object' ? (udm as Record<string, unknown>)['weightscope'] : undefined;
  const metrics = ws && typeof ws === 'object' ? (ws as Record<string, unknown>)['metrics'] : undefined;
  if (!metrics || typeof metrics !== 'object') {
    return undefined;
  }
  const m = metrics as Record<string, unknown>;
  const loss = m['loss'];
  const valLoss = m['val_loss'];
  return typeof loss === 'number' && typeof valLoss === 'number' && Number.isFinite(loss) && Number.isFinite(valLoss)
    ? { loss, valLoss, source: 'userDefinedMetadata.weightscope.metrics' }
    : undefined;
}

/** Reports the train/validation loss gap of a checkpoint that records it. */
export const trainValidationGap: DiagnosticRule = {
  id: 'trainValidationGap',
  codes: ['train-validation-gap'],
  description: 'Gap between validation and training loss recorded with the checkpoint, next to its regularization.',
  run(ctx) {
    const m = storedMetrics(ctx.file.metadata);
    if (!m) {
      return [];
    }
    const reg = ctx.regularization();
    const ratio = m.loss > 0 ? m.valLoss / m.loss : null;
    const overfit = m.valLoss - m.loss > overfitMinGap && (ratio === null || ratio > overfitLossRatio);
    const regularized = reg.regularizerCount > 0 || reg.dropout.length > 0;
    const d: Diagnostic = {
      severity: overfit ? 'warning' : 'info',
      code: 'train-validation-gap',
      message: overfit
        ? `Validation loss ${fmt(m.valLoss)} is ${ratio === null ? 'far' : `${fmt(ratio)}x`} the training loss ${fmt(m.loss)}: the model overfits` +
          (regularized ? ' despite its regularization.' : '; it has no regularizer or dropout, so L2 on the kernels or Dropout would be the first things to try.')
        : `Validation loss ${fmt(m.valLoss)} against training loss ${fmt(m.loss)}${ratio === null ? '' : ` (ratio ${fmt(ratio)})`}: no sign of overfitting.`,
      evidence: {
        loss: ev(m.loss),
        valLoss: ev(m.valLoss),
        ratio: ev(ratio),
        regularizers: reg.regularizerCount,
        dropoutLayers: reg.dropout.length,
        source: m.source,
      },
    };
    return [d];
  },
};
