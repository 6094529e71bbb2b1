/**
 * Text rendering of a conversion check (a .tflite against its float source) for `weightscope diff`.
 */
import type { ConversionCheck, ConversionLayerCheck } from '../analysis/conversionCheck';
import { formatNumber, renderTable } from './table';

function db(x: number | null, exact = 'exact'): string {
  return x === null ? exact : x <= -1e300 ? '-inf' : x.toFixed(1);
}

function predictedText(l: ConversionLayerCheck): string {
  if (!l.predicted) {
    return '-';
  }
  return `${db(l.predicted.sqnrDb, 'lossless')} (${l.predicted.scheme})`;
}

/** The conversion check as lines of text: per layer measured error next to the predicted SQNR, then the layers that stand out. */
export function renderConversionCheck(c: ConversionCheck): string {
  const lines: string[] = [];
  lines.push(`conversion check: ${c.tflitePath} against its float source ${c.floatPath}${c.conversionMode ? ` (${c.conversionMode})` : ''}`);
  lines.push(
    renderTable(
      ['tflite layer', 'op', 'float layer', 'folded BN', 'storage', '>rel L2', '>SQNR dB', '>max|err|', '>kernel SQNR', '>predicted SQNR', 'stands out'],
      c.layers.map((l) => {
        const kernel = l.tensors.find((t) => t.weight !== 'bias');
        return [
          l.layer,
          l.op,
          l.floatLayer ? `${l.floatLayer}${l.matchedBy === 'order' ? ' (by order)' : ''}` : '(none)',
          l.foldedBatchNorm?.layer ?? '-',
          kernel?.storage ?? '-',
          formatNumber(l.relL2),
          l.count > 0 ? db(l.sqnrDb) : '-',
          formatNumber(l.maxAbsError),
          l.count > 0 ? db(l.kernelSqnrDb) : '-',
          predictedText(l),
          l.standsOut ? 'yes' : '',
        ];
      }),
    ),
  );
  lines.push(`median relative error: ${formatNumber(c.medianRelL2)}; a layer stands out below ${c.thresholds.lowSqnrDb} dB SQNR or above ${c.thresholds.outlierMedianRatio}x the median (and ${c.thresholds.outlierMinRelL2})`);
  if (c.sourceMismatch) {
    lines.push('the weights disagree everywhere: the float file is not the model this .tflite was converted from (another training run or file?)');
  }
  if (c.outliers.length === 0) {
    lines.push('no layer stands out');
  } else {
    lines.push(`layers that stand out (${c.outliers.length}):`);
    for (const name of c.outliers) {
      const l = c.layers.find((x) => x.layer === name)!;
      lines.push(`  ${name}: ${l.why ?? ''}`);
    }
  }
  if (c.unmatchedFloatLayers.length > 0) {
    lines.push(`float layers without a TFLite counterpart: ${c.unmatchedFloatLayers.join(', ')}`);
  }
  for (const l of c.layers) {
    for (const t of l.tensors) {
      if (t.error) {
        lines.push(`  ${t.tflite}: error[${t.error.reason}]: ${t.error.message}`);
      }
    }
  }
  return lines.join('\n');
}
