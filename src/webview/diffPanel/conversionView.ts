/**
 * The conversion-check section of the diff panel: for a .tflite against its float source, one row
 * per TFLite layer with the measured error of the converted weights next to the SQNR the
 * precision analysis predicted, and the layers that stand out. Names are inserted as text.
 */
import type { ConversionCheckDto, ConversionLayerCheckDto } from '../../protocol/conversionCheck';
import { clear, h } from '../shared/dom';
import { formatStat } from '../shared/format';

function db(x: number | null, exact: string): string {
  return x === null ? exact : x <= -1e300 ? '−∞' : x.toFixed(1);
}

function cell(text: string, numeric = false, title?: string): HTMLTableCellElement {
  return h('td', { text, className: numeric ? 'num' : '', ...(title ? { title } : {}) });
}

function row(l: ConversionLayerCheckDto): HTMLTableRowElement {
  const kernel = l.tensors.find((t) => t.weight !== 'bias');
  const errors = l.tensors.filter((t) => t.error).map((t) => `${t.tflite}: ${t.error!.reason}: ${t.error!.message}`);
  const compared = l.count > 0;
  const tr = h('tr', { className: l.standsOut ? 'stands-out' : '', attrs: { 'data-layer': l.layer } }, [
    cell(l.layer),
    cell(l.op),
    cell(l.floatLayer ? `${l.floatLayer}${l.matchedBy === 'order' ? ' (by order)' : ''}` : '(none)'),
    cell(l.foldedBatchNorm ? l.foldedBatchNorm.layer : '–', false, l.foldedBatchNorm ? `epsilon ${l.foldedBatchNorm.epsilon}, found from ${l.foldedBatchNorm.source}` : undefined),
    cell(kernel?.storage ?? '–'),
    cell(formatStat(l.relL2), true),
    cell(compared ? db(l.sqnrDb, 'exact') : '–', true),
    cell(formatStat(l.maxAbsError), true),
    cell(compared ? db(l.kernelSqnrDb, 'exact') : '–', true),
    cell(l.predicted ? db(l.predicted.sqnrDb, 'lossless') : '–', true, l.predicted ? `${l.predicted.scheme}; ${(100 * l.predicted.zeroedFraction).toFixed(2)}% of values rounded to 0` : undefined),
    cell(l.standsOut ? (l.why ?? 'yes') : errors.length > 0 ? errors.join('; ') : ''),
  ]);
  return tr;
}

/** Renders the conversion check into `container`, or hides it when the diff has none. */
export function renderConversionView(container: HTMLElement, c: ConversionCheckDto | undefined): void {
  clear(container);
  container.hidden = !c;
  if (!c) {
    return;
  }
  container.append(h('h2', { text: `Conversion check${c.conversionMode ? ` (${c.conversionMode})` : ''}` }));
  container.append(
    h('p', {
      className: 'conversion-verdict',
      attrs: { id: 'conversion-verdict' },
      text: c.sourceMismatch
        ? 'The weights disagree everywhere: the float file is not the model this .tflite was converted from.'
        : c.outliers.length === 0
          ? `No layer stands out (median relative error ${formatStat(c.medianRelL2)}).`
          : `${c.outliers.length} layer(s) stand out: ${c.outliers.join(', ')}.`,
    }),
  );
  const headers = ['TFLite layer', 'op', 'float layer', 'folded BN', 'storage', 'rel. error', 'SQNR dB', 'max |err|', 'kernel SQNR', 'predicted SQNR', 'note'];
  const table = h('table', { className: 'diff-table conversion-table', attrs: { id: 'conversion-table' } }, [
    h('thead', {}, [h('tr', {}, headers.map((x, i) => h('th', { text: x, className: i >= 5 && i <= 9 ? 'num' : '' })))]),
    h('tbody', {}, c.layers.map(row)),
    h('caption', {
      text: `Measured: TFLite weights (dequantized) against the float weights with BatchNorm folded. Predicted: the precision analysis of the folded float kernel for the storage the converter chose. A layer stands out below ${c.thresholds.lowSqnrDb} dB or above ${c.thresholds.outlierMedianRatio}× the median error (and ${c.thresholds.outlierMinRelL2}).`,
    }),
  ]);
  container.append(h('div', { className: 'table-wrap' }, [table]));
  if (c.unmatchedFloatLayers.length > 0) {
    container.append(h('p', { text: `Float layers without a TFLite counterpart: ${c.unmatchedFloatLayers.join(', ')}` }));
  }
}
