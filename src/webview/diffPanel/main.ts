/**
 * The diff panel: whole-model summary and fingerprints, a bar chart of relative change by layer,
 * a sortable tensor table (renamed, transposed, dtype changes, added and removed tensors), the
 * selected pair's overlaid histograms and mapping override, and both files' metadata sidecars.
 * In history mode: lines over checkpoints, a histogram-over-time heatmap, and layer warnings.
 * Every name from a file is inserted as text.
 */
import type {
  DiffPanelEvent,
  DiffPanelNotification,
  DiffPanelRequests,
  DiffPanelStateDto,
  DiffResultDto,
  DiffSidecarsDto,
  HistoryResultDto,
  TensorDiffDto,
} from '../../protocol/diffPanel';
import type { SidecarDto } from '../../protocol/sidecar';
import { clear, h, onThemeChange } from '../shared/dom';
import { formatCount, formatPercent, formatShape, formatStat } from '../shared/format';
import { RequestError, WebviewMessenger } from '../shared/messenger';
import { showSidecarForm } from '../shared/sidecarForm';
import { vscodeApi } from '../shared/vscodeApi';
import { drawHeatmap, layerBarsConfig, linesConfig, overlayConfig, ThemedChart } from './charts';
import { renderConversionView } from './conversionView';

const api = vscodeApi<DiffPanelStateDto>();
let state: DiffPanelStateDto = api.getState() ?? { mode: 'diff', a: '' };
let diff: DiffResultDto | undefined;
let history: HistoryResultDto | undefined;
let histogramRequest = 0;

function saveState(patch: Partial<DiffPanelStateDto>): void {
  state = { ...state, ...patch };
  api.setState(state);
}

const messenger = new WebviewMessenger<DiffPanelRequests, DiffPanelNotification, DiffPanelEvent>(onNotification);

// ---- skeleton ------------------------------------------------------------------------------

const app = document.getElementById('app')!;
const titleEl = h('h1', { className: 'diff-title', attrs: { id: 'diff-title' } });
const statusEl = h('div', { className: 'status-line', attrs: { role: 'status', id: 'diff-status' } });
const rerunBtn = h('button', { text: 'Re-run', className: 'secondary', attrs: { type: 'button', id: 'rerun' } });
const cancelBtn = h('button', { text: 'Cancel', className: 'secondary', attrs: { type: 'button', id: 'cancel' } });
const swapBtn = h('button', { text: 'Swap A/B', className: 'secondary', attrs: { type: 'button', id: 'swap' } });
const resetBtn = h('button', { text: 'Reset mapping', className: 'secondary', attrs: { type: 'button', id: 'reset-mapping' } });
const inspectA = h('button', { text: 'Inspect A', className: 'secondary', attrs: { type: 'button', id: 'inspect-a' } });
const inspectB = h('button', { text: 'Inspect B', className: 'secondary', attrs: { type: 'button', id: 'inspect-b' } });
const summaryEl = h('dl', { className: 'facts', attrs: { id: 'diff-summary' } });
const warningsEl = h('ul', { className: 'warnings', attrs: { id: 'diff-warnings' } });

const barsCanvas = h('canvas', { attrs: { id: 'layer-bars', role: 'img', 'aria-label': 'Relative change by layer' } });
const bars = new ThemedChart(barsCanvas);
const topLayersEl = h('ol', { className: 'top-layers', attrs: { id: 'top-layers' } });
const showIdentical = h('input', { attrs: { type: 'checkbox', id: 'show-identical' } });
const filterInput = h('input', { attrs: { type: 'search', id: 'tensor-filter', placeholder: 'Filter tensors', 'aria-label': 'Filter tensors' } });
const table = h('table', { className: 'diff-table', attrs: { id: 'diff-table' } });
const detailEl = h('section', { className: 'detail', attrs: { id: 'tensor-detail' } });
const overlayCanvas = h('canvas', { attrs: { id: 'overlay-histogram', role: 'img', 'aria-label': 'Overlaid histograms of the selected tensor' } });
const overlay = new ThemedChart(overlayCanvas);
const sidecarsEl = h('section', { className: 'sidecars', attrs: { id: 'sidecars' } });
const conversionEl = h('section', { className: 'conversion', attrs: { id: 'conversion-check' } });

const diffView = h('div', { className: 'diff-view' }, [
  conversionEl,
  h('section', { className: 'charts' }, [
    h('div', { className: 'chart-box' }, [h('h2', { text: 'Relative change by layer' }), h('div', { className: 'canvas-wrap bars' }, [barsCanvas])]),
    h('div', { className: 'chart-box' }, [h('h2', { text: 'Layers that moved most' }), topLayersEl]),
  ]),
  h('section', { className: 'tensors' }, [
    h('div', { className: 'table-tools' }, [h('label', {}, [showIdentical, ' show identical tensors']), filterInput]),
    h('div', { className: 'table-wrap' }, [table]),
  ]),
  detailEl,
  h('div', { className: 'canvas-wrap overlay' }, [overlayCanvas]),
  h('h2', { text: 'Checkpoint metadata' }),
  sidecarsEl,
]);

const historyLines = new ThemedChart(h('canvas', { attrs: { id: 'history-lines', role: 'img', 'aria-label': 'Relative distance of each layer from the first checkpoint, by checkpoint' } }));
const layerLines = new ThemedChart(h('canvas', { attrs: { id: 'layer-lines', role: 'img', 'aria-label': "The chosen layer's metric by checkpoint" } }));
const heatmapCanvas = h('canvas', { className: 'heatmap', attrs: { id: 'history-heatmap', role: 'img', 'aria-label': 'Histograms over time' } });
const layerSelect = h('select', { attrs: { id: 'history-layer', 'aria-label': 'Layer' } });
const metricSelect = h('select', { attrs: { id: 'history-metric', 'aria-label': 'Metric' } }, [
  h('option', { text: 'norm', attrs: { value: 'norm' } }),
  h('option', { text: 'std', attrs: { value: 'std' } }),
  h('option', { text: 'mean', attrs: { value: 'mean' } }),
  h('option', { text: 'change since previous', attrs: { value: 'relStepChange' } }),
]);
const historyTable = h('table', { className: 'diff-table', attrs: { id: 'history-table' } });
const historyView = h('div', { className: 'history-view' }, [
  h('div', { className: 'chart-box' }, [h('h2', { text: 'Distance from the first checkpoint (relative)' }), h('div', { className: 'canvas-wrap lines' }, [historyLines.canvasEl])]),
  h('div', { className: 'table-tools' }, [h('label', { text: 'Layer ' }, [layerSelect]), h('label', { text: ' Metric ' }, [metricSelect])]),
  h('div', { className: 'chart-box' }, [h('div', { className: 'canvas-wrap lines' }, [layerLines.canvasEl])]),
  h('div', { className: 'chart-box' }, [h('h2', { text: 'Histograms over time' }), heatmapCanvas]),
  h('div', { className: 'table-wrap' }, [historyTable]),
]);

app.append(
  h('header', { className: 'summary' }, [
    h('div', { className: 'title-row' }, [titleEl, h('div', { className: 'actions' }, [rerunBtn, cancelBtn, swapBtn, resetBtn, inspectA, inspectB])]),
    statusEl,
    summaryEl,
    warningsEl,
  ]),
  h('main', { className: 'scroll' }, [diffView, historyView]),
);
historyView.hidden = true;

rerunBtn.addEventListener('click', () => {
  setRunning(true);
  messenger.notify({ type: 'rerun' });
});
cancelBtn.addEventListener('click', () => messenger.notify({ type: 'cancel' }));
swapBtn.addEventListener('click', () => {
  saveState({ selected: undefined });
  messenger.notify({ type: 'swap' });
});
resetBtn.addEventListener('click', () => void messenger.request('resetMapping', {}).catch(showError));
inspectA.addEventListener('click', () => void messenger.request('inspect', { side: 'a' }).catch(showError));
inspectB.addEventListener('click', () => void messenger.request('inspect', { side: 'b' }).catch(showError));
showIdentical.addEventListener('change', () => renderTable());
filterInput.addEventListener('input', () => renderTable());
layerSelect.addEventListener('change', () => renderHistoryLayer());
metricSelect.addEventListener('change', () => renderHistoryLayer());

// Redraw the charts with the new colours when the theme changes.
onThemeChange(() => {
  bars.redraw();
  overlay.redraw();
  historyLines.redraw();
  layerLines.redraw();
  renderHistoryLayer();
});

function showError(ex: unknown): void {
  statusEl.textContent = ex instanceof RequestError ? `error[${ex.error.reason}]: ${ex.message}` : String(ex);
  statusEl.classList.add('error');
}

// ---- notifications -------------------------------------------------------------------------

/** Set while a run that a change on disk started is under way (its progress says why it runs). */
let changedNote = '';

/** Shows the diff or the history view (the one of the panel's mode), or neither (an error and no result to show). */
function showResultView(visible: boolean): void {
  diffView.hidden = !visible || state.mode !== 'diff';
  historyView.hidden = !visible || state.mode === 'diff';
}

/** Cancel is offered while a comparison or history run is under way only (there is nothing to cancel otherwise). */
function setRunning(running: boolean): void {
  cancelBtn.disabled = !running;
}

function onNotification(n: DiffPanelNotification): void {
  switch (n.type) {
    case 'init':
      saveState({ ...n.state, sortKey: state.sortKey ?? n.state.sortKey, sortDesc: state.sortDesc ?? n.state.sortDesc, selected: state.selected });
      diff = undefined;
      clear(detailEl);
      renderConversionView(conversionEl, undefined);
      overlay.show(undefined);
      renderTitle();
      statusEl.textContent = state.mode === 'diff' ? 'Comparing…' : 'Reading checkpoints…';
      setRunning(true); // a result that is already there follows at once and ends it
      break;
    case 'changed':
      changedNote = `${n.files.length > 3 ? `${n.files.length} files` : n.files.join(', ')} changed on disk; `;
      statusEl.classList.remove('error');
      statusEl.textContent = `${changedNote}${state.mode === 'diff' ? 'comparing' : 'reading'} again…`;
      setRunning(true);
      break;
    case 'progress':
      statusEl.classList.remove('error');
      statusEl.textContent = changedNote
        ? `${changedNote}${state.mode === 'diff' ? 'comparing' : 'reading'} again… ${n.done}/${n.total}`
        : `${state.mode === 'diff' ? 'Comparing' : 'Reading'}… ${n.done}/${n.total}`;
      setRunning(true);
      break;
    case 'diff':
      diff = n.result;
      changedNote = '';
      saveState({ overrides: n.overrides });
      statusEl.classList.remove('error');
      statusEl.textContent = n.result.summary.identicalModels ? 'The weights are identical.' : 'Done.';
      setRunning(false);
      showResultView(true);
      renderDiff();
      break;
    case 'history':
      history = n.result;
      changedNote = '';
      statusEl.classList.remove('error');
      statusEl.textContent = `${n.result.checkpoints.length} checkpoints, ordered by ${n.result.orderedBy}.`;
      setRunning(false);
      showResultView(true);
      renderHistory();
      break;
    case 'error':
      changedNote = '';
      statusEl.textContent = `error[${n.error.reason}]: ${n.error.message}`;
      statusEl.classList.add('error');
      setRunning(false);
      // With no earlier result the charts and tables below would stand empty: the error alone is shown.
      if (state.mode === 'diff' ? !diff : !history) {
        showResultView(false);
      }
      break;
    case 'sidecars':
      renderSidecars(n);
      break;
  }
}

function renderTitle(): void {
  const isDiff = state.mode === 'diff';
  titleEl.textContent = isDiff ? `${state.labelA ?? 'A'} ↔ ${state.labelB ?? 'B'}` : `Weight history: ${state.labelA ?? ''}`;
  showResultView(true);
  for (const b of [swapBtn, resetBtn, inspectA, inspectB]) {
    b.hidden = !isDiff;
  }
}

// ---- diff mode -----------------------------------------------------------------------------

function fact(label: string, value: string, id?: string): HTMLElement[] {
  return [h('dt', { text: label }), h('dd', { text: value, attrs: id ? { id } : {} })];
}

function renderDiff(): void {
  renderTitle();
  const r = diff;
  if (!r) {
    return;
  }
  const s = r.summary;
  clear(summaryEl);
  summaryEl.append(
    ...fact('A', `${r.a.path} — ${r.a.formatName}, ${r.a.tensorCount} tensors`),
    ...fact('B', `${r.b.path} — ${r.b.formatName}, ${r.b.tensorCount} tensors`),
    ...fact('Model change', `${formatStat(s.relL2)} (||B−A|| / ||A||)${s.identicalModels ? ' — identical' : ''}`, 'model-change'),
    ...fact(
      'Tensors',
      `${s.paired} paired: ${s.identical} identical, ${s.changed} changed, ${s.incomparable} incomparable · ${s.added} added · ${s.removed} removed · ${s.renamed} renamed · ${s.shapeChanged} shape changes · ${s.dtypeChanged} dtype changes`,
    ),
    ...fact('Fingerprint A', s.modelFingerprintA ?? '–', 'fingerprint-a'),
    ...fact('Fingerprint B', s.modelFingerprintB ?? '–', 'fingerprint-b'),
  );
  const nonNumeric = (list: { name: string; dtype: string }[]): string => (list.length === 0 ? 'none' : list.map((t) => `${t.name} (${t.dtype})`).join(', '));
  if (r.nonNumeric.a.length + r.nonNumeric.b.length > 0) {
    summaryEl.append(...fact('Not compared', `no numeric values: A: ${nonNumeric(r.nonNumeric.a)}; B: ${nonNumeric(r.nonNumeric.b)}`, 'non-numeric'));
  }
  clear(warningsEl);
  for (const u of [r.a.unreadable, r.b.unreadable]) {
    if (u) {
      warningsEl.append(h('li', { text: `${u.reason}: ${u.message}`, className: 'warning' }));
    }
  }
  for (const w of r.warnings) {
    warningsEl.append(h('li', { text: `${w.reason}: ${w.message}` }));
  }
  renderConversionView(conversionEl, r.conversion);
  const ranked = r.layers.filter((l) => l.diffNorm > 0 || l.status !== 'identical').sort((x, y) => (y.relL2 ?? 0) - (x.relL2 ?? 0));
  const shown = ranked.slice(0, 40);
  barsCanvas.parentElement!.style.height = `${Math.max(80, 22 * shown.length + 40)}px`;
  bars.show(shown.length > 0 ? () => layerBarsConfig(shown) : undefined);
  clear(topLayersEl);
  for (const name of r.topLayers) {
    const l = r.layers.find((x) => x.layer === name)!;
    const nonFinite = l.nonFiniteChanged > 0 ? [h('span', { className: 'non-finite', text: ` · ${l.nonFiniteChanged} NaN/Inf changed` })] : [];
    topLayersEl.append(h('li', { className: 'top-layer' }, [h('span', { className: 'layer-name', text: name || '(no layer)' }), h('span', { className: 'num', text: ` ${formatStat(l.relL2)}` }), ...nonFinite]));
  }
  if (r.topLayers.length === 0) {
    topLayersEl.append(h('li', { text: 'No layer changed.' }));
  }
  renderTable();
  if (state.selected) {
    const t = r.tensors.find((x) => rowKey(x) === state.selected);
    if (t) {
      select(t);
    }
  }
  void loadSidecars();
}

function rowKey(t: TensorDiffDto): string {
  return `${t.a ?? ''}\u0000${t.b ?? ''}`;
}

/** A tensor's change in words. */
function changeText(t: TensorDiffDto): string {
  if (t.status === 'added' || t.status === 'removed') {
    return t.status;
  }
  const parts: string[] = [];
  if (t.renamed) {
    parts.push('renamed');
  }
  if (t.shapeChange === 'transposed') {
    parts.push(`transposed (axes ${t.permutation?.join(',') ?? '?'})`);
  } else if (t.shapeChange && t.shapeChange !== 'same') {
    parts.push(t.shapeChange);
  }
  if (t.dtypeChanged) {
    parts.push(`dtype ${t.dtypeA}→${t.dtypeB}`);
  }
  if (t.error) {
    parts.push(`error: ${t.error.reason}`);
  }
  return parts.length > 0 ? parts.join(', ') : t.status;
}

interface Column {
  key: string;
  title: string;
  numeric: boolean;
  value: (t: TensorDiffDto) => number | string | null;
  text: (t: TensorDiffDto) => string;
}

const pct = (v: number | null): string => (v === null ? '–' : formatPercent(v));
/** A side's shape ('–' when the side has no such tensor); a dimension the file leaves unknown (-1) shows as '?'. */
const shapeText = (s: number[] | null): string => (s ? formatShape(s, s.some((d) => d < 0), ', ') : '–');
const delta = (b: number | null, a: number | null): number | null => (a === null || b === null ? null : b - a);

const columns: Column[] = [
  { key: 'a', title: 'Tensor (A)', numeric: false, value: (t) => t.a ?? '', text: (t) => t.a ?? '—' },
  { key: 'b', title: 'Tensor (B)', numeric: false, value: (t) => t.b ?? '', text: (t) => (t.b === t.a ? '=' : (t.b ?? '—')) },
  { key: 'change', title: 'Change', numeric: false, value: changeText, text: changeText },
  { key: 'shape', title: 'Shape', numeric: false, value: (t) => shapeText(t.shapeA ?? t.shapeB), text: (t) => (t.shapeChange && t.shapeChange !== 'same' ? `${shapeText(t.shapeA)}→${shapeText(t.shapeB)}` : shapeText(t.shapeA ?? t.shapeB)) },
  { key: 'relL2', title: 'Rel. L2', numeric: true, value: (t) => t.relL2, text: (t) => formatStat(t.relL2) },
  { key: 'cosine', title: 'Cosine', numeric: true, value: (t) => t.cosine, text: (t) => (t.cosine === null ? '–' : t.cosine.toFixed(6)) },
  { key: 'maxAbsDiff', title: 'Max |Δ|', numeric: true, value: (t) => t.maxAbsDiff, text: (t) => formatStat(t.maxAbsDiff) },
  { key: 'meanAbsDiff', title: 'Mean |Δ|', numeric: true, value: (t) => t.meanAbsDiff, text: (t) => formatStat(t.meanAbsDiff) },
  { key: 'changedFraction', title: 'Changed', numeric: true, value: (t) => t.changedFraction, text: (t) => pct(t.changedFraction) },
  { key: 'signFlipFraction', title: 'Sign flips', numeric: true, value: (t) => t.signFlipFraction, text: (t) => pct(t.signFlipFraction) },
  { key: 'dMean', title: 'Δ mean', numeric: true, value: (t) => delta(t.meanB, t.meanA), text: (t) => formatStat(delta(t.meanB, t.meanA)) },
  { key: 'dStd', title: 'Δ std', numeric: true, value: (t) => delta(t.stdB, t.stdA), text: (t) => formatStat(delta(t.stdB, t.stdA)) },
];

/** Most rows rendered at once (the rest behind "show more"). */
const rowPage = 1000;
let rowLimit = rowPage;

function renderTable(): void {
  const r = diff;
  clear(table);
  if (!r) {
    return;
  }
  const sortKey = state.sortKey ?? 'relL2';
  const desc = state.sortDesc ?? true;
  const col = columns.find((c) => c.key === sortKey) ?? columns[4]!;
  const needle = filterInput.value.trim().toLowerCase();
  const rows = r.tensors.filter(
    (t) => (showIdentical.checked || t.status !== 'identical' || t.renamed) && (!needle || `${t.a ?? ''} ${t.b ?? ''}`.toLowerCase().includes(needle)),
  );
  rows.sort((x, y) => {
    const vx = col.value(x);
    const vy = col.value(y);
    if (vx === null || vy === null) {
      return vx === vy ? 0 : vx === null ? 1 : -1; // absent values last
    }
    const c = typeof vx === 'number' && typeof vy === 'number' ? vx - vy : String(vx).localeCompare(String(vy));
    return desc ? -c : c;
  });
  const head = h('tr', {}, columns.map((c) => {
    const th = h('th', { text: c.title, className: c.numeric ? 'num sortable' : 'sortable', attrs: { scope: 'col', 'data-key': c.key, tabindex: '0' } });
    if (c.key === col.key) {
      th.setAttribute('aria-sort', desc ? 'descending' : 'ascending');
    }
    const sort = (): void => {
      saveState({ sortKey: c.key, sortDesc: c.key === col.key ? !desc : c.numeric });
      renderTable();
    };
    th.addEventListener('click', sort);
    th.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        sort();
      }
    });
    return th;
  }));
  const body = h('tbody');
  for (const t of rows.slice(0, rowLimit)) {
    const tr = h('tr', { className: `row status-${t.status}${rowKey(t) === state.selected ? ' selected' : ''}`, attrs: { 'data-key': rowKey(t), tabindex: '0' } }, columns.map((c) => h('td', { text: c.text(t), className: c.numeric ? 'num' : '' })));
    tr.addEventListener('click', () => select(t));
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        select(t);
      }
    });
    body.append(tr);
  }
  table.append(h('thead', {}, [head]), body);
  if (rows.length > rowLimit) {
    const more = h('button', { text: `Show ${Math.min(rowPage, rows.length - rowLimit)} more of ${rows.length - rowLimit}`, className: 'link', attrs: { type: 'button' } });
    more.addEventListener('click', () => {
      rowLimit += rowPage;
      renderTable();
    });
    table.append(h('caption', {}, [more]));
  } else if (rows.length === 0) {
    table.append(h('caption', { text: showIdentical.checked ? 'No tensors match the filter.' : 'Every paired tensor is identical (tick "show identical tensors" to list them).' }));
  }
}

function select(t: TensorDiffDto): void {
  saveState({ selected: rowKey(t) });
  for (const tr of table.querySelectorAll('tr.selected')) {
    tr.classList.remove('selected');
  }
  table.querySelector(`tr[data-key="${CSS.escape(rowKey(t))}"]`)?.classList.add('selected');
  renderDetail(t);
  const id = ++histogramRequest;
  overlay.show(undefined);
  void messenger
    .request('getHistograms', { a: t.a, b: t.b, bins: 64 })
    .then((hist) => {
      if (id === histogramRequest) {
        overlay.show(() => overlayConfig(hist.edges, hist.countsA, hist.countsB, `A: ${state.labelA ?? 'A'}`, `B: ${state.labelB ?? 'B'}`));
      }
    })
    .catch((ex: unknown) => {
      // A request replaced by the next row's is aborted by the host: only the latest one's error is shown.
      if (id === histogramRequest) {
        showError(ex);
      }
    });
}

function renderDetail(t: TensorDiffDto): void {
  clear(detailEl);
  const r = diff!;
  const items: HTMLElement[] = [
    ...fact('A', t.a ? `${t.a}  ${shapeText(t.shapeA)} ${t.dtypeA}` : '— (added in B)'),
    ...fact('B', t.b ? `${t.b}  ${shapeText(t.shapeB)} ${t.dtypeB}` : '— (removed in B)'),
    ...fact('Paired by', t.matchedBy ?? '–'),
    ...fact('Change', changeText(t)),
    ...fact('mean A → B', `${formatStat(t.meanA)} → ${formatStat(t.meanB)}`),
    ...fact('std A → B', `${formatStat(t.stdA)} → ${formatStat(t.stdB)}`),
    ...fact('||A||, ||B||, ||B−A||', `${formatStat(t.normA)}, ${formatStat(t.normB)}, ${formatStat(t.diffNorm)}`),
    ...fact('Elements', formatCount(t.count)),
  ];
  if (t.identicalBy) {
    items.push(...fact('Identical by', t.identicalBy));
  }
  if (t.error) {
    items.push(...fact('Error', `${t.error.reason}: ${t.error.message}`));
  }
  detailEl.append(h('h2', { text: 'Selected tensor' }), h('dl', { className: 'facts' }, items));
  if (t.a !== null) {
    const choose = h('select', { attrs: { id: 'map-target', 'aria-label': 'Pair with tensor of B' } }, [
      h('option', { text: '(unpaired: removed)', attrs: { value: '\u0000' } }),
      ...r.tensors.flatMap((x) => (x.b !== null ? [h('option', { text: x.b, attrs: { value: x.b } })] : [])),
    ]);
    choose.value = t.b ?? '\u0000';
    const apply = h('button', { text: 'Pair', className: 'secondary', attrs: { type: 'button', id: 'map-apply' } });
    apply.addEventListener('click', () => {
      const b = choose.value === '\u0000' ? null : choose.value;
      statusEl.textContent = 'Re-comparing with the new pairing…';
      void messenger.request('setMapping', { a: t.a!, b }).catch(showError);
    });
    detailEl.append(h('div', { className: 'mapping' }, [h('label', { text: `Pair ${t.a} with ` }, [choose]), apply]));
  }
}

// ---- sidecars ------------------------------------------------------------------------------

async function loadSidecars(): Promise<void> {
  try {
    renderSidecars(await messenger.request('getSidecars', {}));
  } catch (ex) {
    showError(ex);
  }
}

/** The two cards, kept across renders so that what is typed into one survives a change to the other. */
const sidecarCards = { a: h('div', { className: 'sidecar' }), b: h('div', { className: 'sidecar' }) };

function renderSidecars(s: DiffSidecarsDto): void {
  if (!sidecarsEl.contains(sidecarCards.a)) {
    clear(sidecarsEl);
    sidecarsEl.append(sidecarCards.a, sidecarCards.b);
  }
  renderSidecarCard('a', s.a);
  renderSidecarCard('b', s.b);
}

function renderSidecarCard(side: 'a' | 'b', s: SidecarDto | null): void {
  const card = sidecarCards[side];
  const label = side === 'a' ? (state.labelA ?? 'A') : (state.labelB ?? 'B');
  if (!s) {
    clear(card);
    card.append(h('h3', { text: label }), h('p', { text: 'No metadata for this file (not a local file).' }));
    return;
  }
  let [title, formHost, info] = [...card.children] as (HTMLElement | undefined)[];
  if (!title || !formHost || !info || !formHost.classList.contains('sidecar-form-host')) {
    clear(card);
    [title, formHost, info] = [h('h3'), h('div', { className: 'sidecar-form-host' }), h('p', { className: 'muted' })];
    card.append(title, formHost, info);
  }
  title.textContent = label;
  info.textContent = s.exists ? `${s.path}${s.created ? ` · created ${s.created}` : ''}${s.gitCommit ? ` · commit ${s.gitCommit.slice(0, 10)}` : ''}` : `Saved to ${s.path} (the checkpoint itself is never modified).`;
  showSidecarForm(formHost, s, {
    idSuffix: side,
    onInvalid: (message) => showError(new Error(message)),
    onSave: (edit) => {
      void messenger
        .request('saveSidecar', { side, ...edit })
        .then((saved) => {
          statusEl.classList.remove('error');
          statusEl.textContent = `Metadata saved to ${saved.path}.`; // the host pushes the sidecars again ('sidecars')
        })
        .catch(showError);
    },
  });
}

// ---- history mode --------------------------------------------------------------------------

function renderHistory(): void {
  renderTitle();
  const r = history;
  if (!r) {
    return;
  }
  const labels = r.checkpoints.map((c) => c.label);
  clear(summaryEl);
  summaryEl.append(...fact('Folder', r.dir), ...fact('Checkpoints', `${r.checkpoints.length}, ordered by ${r.orderedBy}`));
  clear(warningsEl);
  for (const s of r.skipped ?? []) {
    warningsEl.append(h('li', { text: `${s.reason}: ${s.label} was left out: ${s.message}`, className: 'warning' }));
  }
  for (const w of [...r.warnings, ...r.namingWarnings]) {
    warningsEl.append(h('li', { text: w.message, className: 'warning' }));
  }
  historyLines.show(() =>
    linesConfig(labels, [{ label: 'model', data: r.relDistanceFromFirst }, ...r.layers.slice(0, 5).map((l) => ({ label: l.layer || '(no layer)', data: l.points.map((p) => p?.relDistanceFromFirst ?? null) }))], '||W−W₀|| / ||W₀||'),
  );
  clear(layerSelect);
  for (const l of r.layers) {
    layerSelect.append(h('option', { text: l.layer || '(no layer)', attrs: { value: l.layer } }));
  }
  clear(historyTable);
  historyTable.append(
    h('thead', {}, [h('tr', {}, ['Checkpoint', 'Epoch/step', 'Distance from first', 'Change since previous'].map((t, i) => h('th', { text: t, className: i >= 1 ? 'num' : '' })))]),
    h(
      'tbody',
      {},
      r.checkpoints.map((c, k) =>
        h('tr', {}, [
          h('td', { text: c.label }),
          h('td', { className: 'num', text: String(c.epoch ?? c.step ?? '–') }),
          h('td', { className: 'num', text: formatStat(r.relDistanceFromFirst[k]) }),
          h('td', { className: 'num', text: formatStat(r.relStepChange[k]) }),
        ]),
      ),
    ),
  );
  renderHistoryLayer();
}

function renderHistoryLayer(): void {
  const r = history;
  const l = r?.layers.find((x) => x.layer === layerSelect.value) ?? r?.layers[0];
  if (!r || !l) {
    return;
  }
  const metric = metricSelect.value as 'norm' | 'std' | 'mean' | 'relStepChange';
  const labels = r.checkpoints.map((c) => c.label);
  const metricName = metricSelect.selectedOptions[0]?.textContent ?? metric;
  layerLines.canvasEl.setAttribute('aria-label', `${metricName} of layer ${l.layer} by checkpoint`);
  heatmapCanvas.setAttribute('aria-label', `Histograms of layer ${l.layer} over time`);
  layerLines.show(() => linesConfig(labels, [{ label: `${l.layer} ${metric}`, data: l.points.map((p) => p?.[metric] ?? null) }], metric));
  drawHeatmap(
    heatmapCanvas,
    l.points.map((p) => p?.histogram ?? null),
    l.histogramEdges,
    labels,
  );
}

renderTitle();
messenger.notify({ type: 'ready' });
