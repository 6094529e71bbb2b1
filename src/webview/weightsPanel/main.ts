/**
 * The weights panel: model summary, sortable/filterable virtualized tensor and layer tables, a
 * per-tensor detail with linear and log histograms, a warnings list, diagnostics, the file's
 * metadata sidecar and naming check, and copy/export of the table. Every name from a file is
 * inserted as text.
 */
import type {
  AnalysisStatusDto,
  DiagnosticsSnapshotDto,
  FingerprintStatusDto,
  LayerRowDto,
  MetadataDto,
  ModelSnapshotDto,
  TableFormat,
  TensorDetailDto,
  TensorRowDto,
  WeightsPanelEvent,
  WeightsPanelNotification,
  WeightsPanelRequests,
  WeightsPanelStateDto,
} from '../../protocol/weightsPanel';
import { clear, h, onThemeChange } from '../shared/dom';
import { formatBytes, formatCount, formatPercent, formatShape, formatStat } from '../shared/format';
import { RequestError, WebviewMessenger } from '../shared/messenger';
import { vscodeApi } from '../shared/vscodeApi';
import { badgeClass, badgeText, countDiagnostics, DiagnosticsView, type DiagnosticCounts } from './diagnosticsView';
import { HistogramChart } from './histograms';
import { MetadataView } from './metadataView';
import { VirtualTable, type Column } from './virtualTable';

/** The tabs of the panel, in order. New surfaces (e.g. diagnostics) add an entry here. */
const tabs: { id: string; title: string }[] = [
  { id: 'tensors', title: 'Tensors' },
  { id: 'layers', title: 'Layers' },
  { id: 'warnings', title: 'Warnings' },
  { id: 'diagnostics', title: 'Diagnostics' },
  { id: 'metadata', title: 'Metadata' },
];

const api = vscodeApi<WeightsPanelStateDto>();
let state: WeightsPanelStateDto = api.getState() ?? { uri: '' };
let snapshot: ModelSnapshotDto | undefined;
/** The Metadata tab's content, from the last didChangeMetadata. */
let metadata: MetadataDto | undefined;
const rowsByName = new Map<string, TensorRowDto>();
/** Diagnostic counts per tensor and per layer, from the last report. */
let tensorDiagnostics = new Map<string, DiagnosticCounts>();
let layerDiagnostics = new Map<string, DiagnosticCounts>();
let detailRequest = 0;

function saveState(patch: Partial<WeightsPanelStateDto>): void {
  state = { ...state, ...patch };
  api.setState(state);
}

const messenger = new WebviewMessenger<WeightsPanelRequests, WeightsPanelNotification, WeightsPanelEvent>(onNotification);

// ---- page skeleton -------------------------------------------------------------------------

const app = document.getElementById('app')!;
const titleEl = h('h1', { className: 'file-name' });
const formatEl = h('span', { className: 'format-badge' });
const statusLine = h('div', { className: 'status-line', attrs: { role: 'status' } });
const analysisEl = h('span', { className: 'analysis' });
const toastEl = h('span', { className: 'toast', attrs: { 'aria-live': 'polite' } });
const analyzeBtn = h('button', { text: 'Analyze', attrs: { type: 'button', id: 'analyze' } });
const cancelBtn = h('button', { text: 'Cancel', className: 'secondary', attrs: { type: 'button', id: 'cancel' } });
const refreshBtn = h('button', { text: 'Refresh', className: 'secondary', attrs: { type: 'button', id: 'refresh' } });
const formatSelect = h('select', { attrs: { id: 'table-format', 'aria-label': 'Table format' } }, [
  h('option', { text: 'CSV', attrs: { value: 'csv' } }),
  h('option', { text: 'Markdown', attrs: { value: 'markdown' } }),
  h('option', { text: 'JSON', attrs: { value: 'json' } }),
]);
const copyBtn = h('button', { text: 'Copy table', className: 'secondary', attrs: { type: 'button', id: 'copy-table' } });
const exportBtn = h('button', { text: 'Export…', className: 'secondary', attrs: { type: 'button', id: 'export-table' } });
const facts = h('dl', { className: 'facts' });
const header = h('header', { className: 'summary' }, [
  h('div', { className: 'title-row' }, [
    titleEl,
    formatEl,
    h('div', { className: 'actions' }, [analyzeBtn, cancelBtn, refreshBtn, formatSelect, copyBtn, exportBtn]),
  ]),
  facts,
  h('div', { className: 'status-row' }, [analysisEl, statusLine, toastEl]),
]);

const tabBar = h('nav', { className: 'tabs', attrs: { role: 'tablist' } });
const tabButtons = new Map<string, HTMLButtonElement>();
const sections = new Map<string, HTMLElement>();
for (const t of tabs) {
  const b = h('button', { className: 'tab', text: t.title, attrs: { role: 'tab', type: 'button', id: `tab-${t.id}`, 'aria-controls': `section-${t.id}`, tabindex: '-1' } });
  b.addEventListener('click', () => showTab(t.id));
  tabButtons.set(t.id, b);
  tabBar.append(b);
  sections.set(t.id, h('section', { className: 'tab-section', attrs: { id: `section-${t.id}`, role: 'tabpanel', 'aria-labelledby': `tab-${t.id}` } }));
}

const errorEl = h('div', { className: 'error-state', attrs: { id: 'error-state', role: 'alert' } });
errorEl.hidden = true;
const openingEl = h('div', { className: 'opening', text: 'Reading headers…' });
const body = h('div', { className: 'body' }, [tabBar, ...sections.values()]);
app.append(header, errorEl, openingEl, body);

// ---- tensors tab -----------------------------------------------------------------------------

function nonFiniteText(r: TensorRowDto): string {
  return r.stats ? (r.stats.nonFiniteCount > 0 ? formatCount(r.stats.nonFiniteCount) : '0') : '';
}

const tensorColumns: Column<TensorRowDto>[] = [
  {
    key: 'name',
    title: 'Tensor',
    width: 'minmax(180px, 3fr)', minPx: 180,
    text: (r) => r.name,
    sortValue: (r) => r.name,
    cellClass: (r) => (r.issues.some((i) => i.severity === 'error') ? 'issue-error' : r.issues.length > 0 ? 'issue-warning' : undefined),
    tooltip: (r) => [r.name, ...r.issues.map((i) => i.message)].join('\n'),
  },
  {
    key: 'diagnostics',
    title: 'Diag.',
    width: '64px',
    minPx: 64,
    text: (r) => badgeText(tensorDiagnostics.get(r.name)),
    sortValue: (r) => diagnosticRank(tensorDiagnostics.get(r.name)),
    cellClass: (r) => badgeClass(tensorDiagnostics.get(r.name)),
    tooltip: (r) => tensorDiagnostics.get(r.name)?.messages.join('\n'),
  },
  { key: 'layer', title: 'Layer', width: 'minmax(90px, 1.4fr)', minPx: 90, text: (r) => r.layer, sortValue: (r) => r.layer },
  { key: 'role', title: 'Role', width: '90px', minPx: 90, text: (r) => r.role, sortValue: (r) => r.role },
  { key: 'dtype', title: 'DType', width: '90px', minPx: 90, text: (r) => (r.storageDtype ? `${r.dtype}<${r.storageDtype}` : r.dtype), sortValue: (r) => r.dtype },
  { key: 'shape', title: 'Shape', width: '110px', minPx: 110, text: (r) => formatShape(r.shape, r.shapeUnknown), sortValue: (r) => r.params },
  { key: 'params', title: 'Params', width: '80px', minPx: 80, numeric: true, text: (r) => (r.params === null ? '?' : formatCount(r.params)), sortValue: (r) => r.params },
  { key: 'mean', title: 'Mean', width: '80px', minPx: 80, numeric: true, text: (r) => (r.stats ? formatStat(r.stats.mean) : ''), sortValue: (r) => r.stats?.mean },
  { key: 'std', title: 'Std', width: '80px', minPx: 80, numeric: true, text: (r) => (r.stats ? formatStat(r.stats.std) : ''), sortValue: (r) => r.stats?.std },
  { key: 'min', title: 'Min', width: '80px', minPx: 80, numeric: true, text: (r) => (r.stats ? formatStat(r.stats.min) : ''), sortValue: (r) => r.stats?.min },
  { key: 'max', title: 'Max', width: '80px', minPx: 80, numeric: true, text: (r) => (r.stats ? formatStat(r.stats.max) : ''), sortValue: (r) => r.stats?.max },
  { key: 'zeros', title: 'Zeros', width: '64px', minPx: 64, numeric: true, text: (r) => (r.stats ? formatPercent(r.stats.zeroFraction) : ''), sortValue: (r) => r.stats?.zeroFraction },
  { key: 'nonFinite', title: 'NaN/Inf', width: '64px', minPx: 64, numeric: true, text: nonFiniteText, sortValue: (r) => r.stats?.nonFiniteCount, cellClass: (r) => (r.stats && r.stats.nonFiniteCount > 0 ? 'issue-warning' : undefined) },
  {
    key: 'fingerprint',
    title: 'Fingerprint',
    width: '110px',
    minPx: 110,
    text: (r) => (r.fingerprint ? shortFingerprint(r.fingerprint) : ''),
    sortValue: (r) => r.fingerprint,
    tooltip: (r) => (r.fingerprint ? `SHA-256 of the values: ${r.fingerprint}` : undefined),
  },
];

/** The short form of a fingerprint (first 12 hex digits), as the tree and the CLI show it. */
function shortFingerprint(fp: string): string {
  return fp.slice(0, 12);
}

const tensorTable = new VirtualTable<TensorRowDto>(
  tensorColumns,
  (r) => r.name,
  (r, f) => r.name.toLowerCase().includes(f) || r.layer.toLowerCase().includes(f) || r.dtype.includes(f),
  (r) => selectTensor(r.name),
  'Tensors',
);
tensorTable.onSortChange = (key, dir) => saveState({ sortKey: key, sortDir: dir });
const filterInput = h('input', { attrs: { type: 'search', id: 'filter', placeholder: 'Filter by name, layer or dtype', 'aria-label': 'Filter tensors' } });
const rowCount = h('span', { className: 'row-count' });
filterInput.addEventListener('input', () => {
  tensorTable.setFilter(filterInput.value);
  saveState({ filter: filterInput.value });
  updateRowCount();
});

const detailEl = h('aside', { className: 'detail', attrs: { id: 'detail', 'aria-label': 'Tensor detail' } });
const detailTitle = h('h2', { className: 'detail-title' });
const detailMeta = h('div', { className: 'detail-meta' });
const detailIssues = h('ul', { className: 'issues' });
const linearCanvas = h('canvas', { attrs: { id: 'histogram-linear', role: 'img', 'aria-label': 'Histogram of values' } });
const logCanvas = h('canvas', { attrs: { id: 'histogram-log', role: 'img', 'aria-label': 'Histogram of log10 of absolute values' } });
const statsTable = h('table', { className: 'stats' });
const detailHint = h('p', { className: 'hint', text: 'Select a tensor to see its histograms and statistics.' });
const chartsEl = h('div', { className: 'charts' }, [
  h('figure', {}, [h('figcaption', { text: 'Values' }), h('div', { className: 'chart-box' }, [linearCanvas])]),
  h('figure', {}, [h('figcaption', { text: 'log10 |x| (zeros excluded)' }), h('div', { className: 'chart-box' }, [logCanvas])]),
]);
detailEl.append(detailHint, detailTitle, detailMeta, detailIssues, chartsEl, statsTable);
const linearChart = new HistogramChart(linearCanvas, false);
const logChart = new HistogramChart(logCanvas, true);

sections.get('tensors')!.append(
  h('div', { className: 'split' }, [
    h('div', { className: 'table-pane' }, [h('div', { className: 'toolbar' }, [filterInput, rowCount]), tensorTable.element]),
    detailEl,
  ]),
);

// ---- layers tab ------------------------------------------------------------------------------

const layerColumns: Column<LayerRowDto>[] = [
  { key: 'name', title: 'Layer', width: 'minmax(160px, 3fr)', minPx: 160, text: (l) => l.name, sortValue: (l) => l.name },
  { key: 'className', title: 'Class', width: 'minmax(90px, 1.2fr)', minPx: 90, text: (l) => l.className ?? '', sortValue: (l) => l.className },
  { key: 'activation', title: 'Activation', width: '100px', minPx: 100, text: (l) => l.activation ?? '', sortValue: (l) => l.activation },
  { key: 'tensors', title: 'Tensors', width: '70px', minPx: 70, numeric: true, text: (l) => String(l.tensors.length), sortValue: (l) => l.tensors.length },
  { key: 'params', title: 'Params', width: '100px', minPx: 100, numeric: true, text: (l) => formatCount(l.params), sortValue: (l) => l.params },
  {
    key: 'diagnostics',
    title: 'Diagnostics',
    width: '90px',
    minPx: 90,
    text: (l) => badgeText(layerDiagnostics.get(l.name)),
    sortValue: (l) => diagnosticRank(layerDiagnostics.get(l.name)),
    cellClass: (l) => badgeClass(layerDiagnostics.get(l.name)),
    tooltip: (l) => layerDiagnostics.get(l.name)?.messages.join('\n'),
  },
];
const layerTable = new VirtualTable<LayerRowDto>(
  layerColumns,
  (l) => l.name,
  (l, f) => l.name.toLowerCase().includes(f) || (l.className ?? '').toLowerCase().includes(f),
  (l) => {
    const first = l.tensors[0];
    if (first !== undefined) {
      showTab('tensors');
      selectTensor(first);
    }
  },
  'Layers',
);
sections.get('layers')!.append(h('div', { className: 'table-pane full' }, [layerTable.element]));

// ---- warnings tab ----------------------------------------------------------------------------

const warningsList = h('ul', { className: 'warnings', attrs: { id: 'warnings-list' } });
sections.get('warnings')!.append(warningsList);

function renderWarnings(): void {
  clear(warningsList);
  let n = 0;
  for (const w of snapshot?.warnings ?? []) {
    n++;
    warningsList.append(
      h('li', { className: 'warning-item severity-warning' }, [h('span', { className: 'reason', text: w.reason }), h('span', { className: 'message', text: w.message })]),
    );
  }
  const naming = metadata?.naming;
  if (naming && naming.message !== undefined && naming.state !== 'match' && naming.state !== 'off') {
    n++;
    const link = h('button', { className: 'link', text: 'Metadata', attrs: { type: 'button' } });
    link.addEventListener('click', () => showTab('metadata'));
    warningsList.append(
      h('li', { className: 'warning-item severity-warning', attrs: { id: 'naming-warning' } }, [h('span', { className: 'reason', text: 'naming' }), link, h('span', { className: 'message', text: naming.message })]),
    );
  }
  for (const r of snapshot?.tensors ?? []) {
    for (const i of r.issues) {
      n++;
      const link = h('button', { className: 'link', text: r.name, attrs: { type: 'button' } });
      link.addEventListener('click', () => {
        showTab('tensors');
        selectTensor(r.name);
      });
      warningsList.append(
        h('li', { className: `warning-item severity-${i.severity}` }, [h('span', { className: 'reason', text: i.kind }), link, h('span', { className: 'message', text: i.message })]),
      );
    }
  }
  if (n === 0) {
    warningsList.append(h('li', { className: 'none', text: snapshot?.analysis.state === 'done' ? 'No problems found.' : 'No problems found so far.' }));
  }
  const tb = tabButtons.get('warnings')!;
  tb.textContent = n > 0 ? `Warnings (${n})` : 'Warnings';
  tb.classList.toggle('has-warnings', n > 0);
}

// ---- diagnostics tab -------------------------------------------------------------------------

/** Sort rank of a diagnostic count: errors before warnings; rows without any sort last. */
function diagnosticRank(c: DiagnosticCounts | undefined): number | undefined {
  return c && c.errors + c.warnings > 0 ? -(c.errors * 1e6 + c.warnings) : undefined;
}

const diagnosticsView = new DiagnosticsView((tensor, layer) => {
  const name = tensor !== undefined && rowsByName.has(tensor) ? tensor : snapshot?.layers.find((l) => l.name === layer)?.tensors[0];
  if (name !== undefined) {
    showTab('tensors');
    selectTensor(name);
  }
});
sections.get('diagnostics')!.append(diagnosticsView.element);

function renderDiagnostics(d: DiagnosticsSnapshotDto): void {
  const report = d.status.state === 'done' ? d.report : undefined;
  tensorDiagnostics = countDiagnostics(report, (x) => x.tensor);
  layerDiagnostics = countDiagnostics(report, (x) => x.layer);
  diagnosticsView.render(d);
  // Cancel stops the statistics and the diagnostics after them.
  diagnosticsRunning = d.status.state === 'running';
  updateCancel();
  tensorTable.refresh();
  layerTable.refresh();
  const tb = tabButtons.get('diagnostics')!;
  const n = report ? report.summary.errors + report.summary.warnings : 0;
  tb.textContent = n > 0 ? `Diagnostics (${n})` : 'Diagnostics';
  tb.classList.toggle('has-errors', (report?.summary.errors ?? 0) > 0);
  tb.classList.toggle('has-warnings', n > 0);
}

// ---- metadata tab ----------------------------------------------------------------------------

const metadataView = new MetadataView({
  save: (edit) => messenger.request('saveSidecar', edit),
  create: () => messenger.request('createSidecar', {}),
  describe: (ex) => (ex instanceof RequestError ? ex.error.message : String(ex)),
});
sections.get('metadata')!.append(metadataView.element);

function renderMetadata(m: MetadataDto): void {
  metadata = m;
  metadataView.render(m);
  metadataView.setModelFingerprint(snapshot?.fingerprint.model);
  const warn = m.naming.state === 'mismatch' || m.naming.state === 'ambiguous' || m.naming.state === 'invalidPattern' || m.error !== undefined;
  tabButtons.get('metadata')!.classList.toggle('has-warnings', warn);
  renderWarnings();
}

// ---- behaviour -------------------------------------------------------------------------------

function showTab(id: string): void {
  for (const [tid, b] of tabButtons) {
    b.setAttribute('aria-selected', String(tid === id));
    b.classList.toggle('active', tid === id);
    b.tabIndex = tid === id ? 0 : -1; // roving tabindex: Tab reaches the selected tab only, the arrow keys the others
  }
  for (const [sid, s] of sections) {
    s.hidden = sid !== id;
  }
  if (id === 'diagnostics') {
    diagnosticsView.redraw(); // a chart drawn while its tab was hidden has no size
  }
  saveState({ tab: id });
}

// The tab list's keys (WAI-ARIA tabs pattern, automatic activation): Left/Right move to the
// previous/next tab (wrapping), Home/End to the first/last; the tab moved to is shown and focused.
tabBar.addEventListener('keydown', (e) => {
  const ids = [...tabButtons.keys()];
  const current = ids.findIndex((tid) => tabButtons.get(tid) === document.activeElement);
  if (current < 0) {
    return;
  }
  const target =
    e.key === 'ArrowRight' ? (current + 1) % ids.length : e.key === 'ArrowLeft' ? (current - 1 + ids.length) % ids.length : e.key === 'Home' ? 0 : e.key === 'End' ? ids.length - 1 : -1;
  if (target < 0) {
    return;
  }
  e.preventDefault();
  showTab(ids[target]!);
  tabButtons.get(ids[target]!)!.focus();
});

function updateRowCount(): void {
  const shown = tensorTable.visibleRows().length;
  const total = snapshot?.tensors.length ?? 0;
  rowCount.textContent = shown === total ? `${formatCount(total)} tensors` : `${formatCount(shown)} of ${formatCount(total)} tensors`;
}

function toast(text: string): void {
  toastEl.textContent = text;
  window.setTimeout(() => {
    if (toastEl.textContent === text) {
      toastEl.textContent = '';
    }
  }, 4000);
}

function failure(ex: unknown): void {
  toast(ex instanceof RequestError ? `Failed: ${ex.error.message}` : `Failed: ${String(ex)}`);
}

/** True while the diagnostics run (from the last diagnostics snapshot). */
let diagnosticsRunning = false;

/** Cancel stops the statistics, the diagnostics and the fingerprints after them: shown while any runs. */
function updateCancel(): void {
  cancelBtn.hidden = snapshot?.analysis.state !== 'running' && !diagnosticsRunning && snapshot?.fingerprint.state !== 'running';
}

function renderAnalysis(a: AnalysisStatusDto): void {
  if (snapshot) {
    snapshot.analysis = a;
  }
  const open = snapshot?.status === 'open';
  analyzeBtn.hidden = !open || a.state === 'running' || a.state === 'done';
  updateCancel();
  switch (a.state) {
    case 'running':
      analysisEl.textContent = `Analysing… ${a.done} of ${a.total} tensors`;
      break;
    case 'done':
      analysisEl.textContent = `Statistics of ${a.total} tensors`;
      break;
    case 'cancelled':
      analysisEl.textContent = `Analysis cancelled after ${a.done} of ${a.total} tensors`;
      break;
    case 'skipped':
      analysisEl.textContent = a.note ?? 'Large file: analyse on request.';
      break;
    case 'idle':
      analysisEl.textContent = open ? 'Statistics not computed yet' : '';
      break;
  }
  document.body.dataset.analysis = a.state;
}

// The model fingerprint: a fact of the header with a copy button, updated as fingerprints arrive.
const fingerprintValue = h('span', { className: 'fingerprint', attrs: { id: 'model-fingerprint' } });
const copyFingerprintBtn = h('button', { className: 'link', text: 'Copy', attrs: { type: 'button', id: 'copy-fingerprint', title: 'Copy the full model fingerprint' } });
copyFingerprintBtn.addEventListener('click', () => {
  messenger
    .request('copyFingerprint', {})
    .then((r) => toast(`Copied the model fingerprint ${shortFingerprint(r.fingerprint)}….`))
    .catch(failure);
});
const fingerprintFact = h('div', { className: 'fact' }, [h('dt', { text: 'Fingerprint' }), h('dd', {}, [fingerprintValue, ' ', copyFingerprintBtn])]);

function renderFingerprint(f: FingerprintStatusDto): void {
  if (snapshot) {
    snapshot.fingerprint = f;
  }
  copyFingerprintBtn.hidden = f.state !== 'done' || f.model === undefined;
  metadataView.setModelFingerprint(f.state === 'done' ? f.model : undefined);
  updateCancel();
  document.body.dataset.fingerprint = f.state;
  fingerprintValue.removeAttribute('title');
  switch (f.state) {
    case 'done':
      if (f.model !== undefined) {
        fingerprintValue.textContent = `${shortFingerprint(f.model)}${f.partial ? ' (partial)' : ''}`;
        fingerprintValue.title = `SHA-256 model fingerprint over ${f.modelTensorCount ?? 0} tensors${f.partial ? ' (some tensors could not be read)' : ''}: ${f.model}`;
        fingerprintValue.dataset.full = f.model;
      } else {
        fingerprintValue.textContent = f.partial ? 'none: no tensor could be read' : 'none: no numeric tensors';
        delete fingerprintValue.dataset.full;
      }
      break;
    case 'running':
      fingerprintValue.textContent = `computing… ${f.done} of ${f.total} tensors`;
      break;
    case 'cancelled':
      fingerprintValue.textContent = 'cancelled (Refresh computes it)';
      break;
    case 'failed':
      fingerprintValue.textContent = `failed: ${f.error?.message ?? 'unknown error'}`;
      break;
    case 'idle':
      fingerprintValue.textContent = 'after the statistics';
      break;
  }
}

function renderFacts(s: ModelSnapshotDto): void {
  clear(facts);
  const sum = s.summary;
  if (!sum) {
    return;
  }
  const add = (label: string, value: string, title?: string): void => {
    facts.append(h('div', { className: 'fact' }, [h('dt', { text: label }), h('dd', { text: value, title })]));
  };
  if (sum.modelClass) {
    add('Model', sum.modelClass);
  }
  add('Layers', formatCount(sum.layerCount));
  add('Tensors', formatCount(sum.tensorCount));
  // A total that leaves tensors of unknown shape out says so (as the CLI header does).
  const unknownShapes = sum.unknownShapeTensors ? ` (excludes ${sum.unknownShapeTensors} tensor${sum.unknownShapeTensors === 1 ? '' : 's'} of unknown shape)` : '';
  add('Parameters', `${formatCount(sum.params)}${unknownShapes}`, `${formatCount(sum.params)} model parameters${unknownShapes}`);
  if (sum.otherParams > 0) {
    add('Optimizer & other', formatCount(sum.otherParams));
  }
  add('Size', formatBytes(sum.bytes), `${formatCount(sum.bytes)} bytes`);
  add('DTypes', sum.dtypes.map((d) => `${d.dtype} ×${d.tensors}`).join(', '));
  add('Architecture', sum.hasArchitecture ? 'yes' : 'not in file');
  facts.append(fingerprintFact);
  renderFingerprint(s.fingerprint);
  for (const f of sum.facts.slice(0, 6)) {
    add(f.label, f.value);
  }
}

function renderSnapshot(s: ModelSnapshotDto): void {
  snapshot = s;
  saveState({ uri: s.uri });
  titleEl.textContent = s.fileName;
  titleEl.title = s.uri;
  document.title = s.fileName;
  formatEl.textContent = s.summary?.formatName ?? '';
  document.body.dataset.status = s.status;
  rowsByName.clear();
  for (const r of s.tensors) {
    rowsByName.set(r.name, r);
  }
  errorEl.hidden = s.status !== 'failed';
  openingEl.hidden = s.status !== 'opening';
  body.hidden = s.status !== 'open';
  for (const b of [copyBtn, exportBtn, formatSelect, refreshBtn]) {
    b.hidden = s.status === 'opening';
  }
  copyBtn.hidden = exportBtn.hidden = formatSelect.hidden = s.status !== 'open';
  if (s.status === 'failed' && s.error) {
    clear(errorEl);
    const reopen = h('button', { text: 'Reopen With…', className: 'secondary', attrs: { type: 'button', id: 'reopen-with' } });
    reopen.addEventListener('click', () => void messenger.request('reopenWith', {}).catch(failure));
    const retry = h('button', { text: 'Retry', attrs: { type: 'button' } });
    retry.addEventListener('click', () => void messenger.request('refresh', {}).catch(failure));
    errorEl.append(
      h('h2', { text: `Cannot open ${s.fileName}` }),
      h('p', { className: 'error-message', text: s.error.message }),
      h('p', { className: 'error-reason' }, ['Reason: ', h('code', { text: s.error.reason })]),
      h('div', { className: 'actions' }, [retry, reopen]),
    );
  }
  renderFacts(s);
  tensorTable.setRows(s.tensors);
  layerTable.setRows(s.layers);
  updateRowCount();
  renderWarnings();
  renderAnalysis(s.analysis);
  const selected = state.selected && rowsByName.has(state.selected) ? state.selected : s.tensors[0]?.name;
  if (selected !== undefined && s.status === 'open') {
    selectTensor(selected, false);
  } else {
    renderDetail(undefined);
  }
}

function renderDetail(d: TensorDetailDto | undefined): void {
  detailHint.hidden = d !== undefined;
  detailTitle.hidden = chartsEl.hidden = statsTable.hidden = d === undefined;
  clear(detailMeta);
  clear(detailIssues);
  clear(statsTable);
  if (!d) {
    linearChart.show(undefined);
    logChart.show(undefined);
    return;
  }
  const r = d.row;
  detailTitle.textContent = r.name;
  detailMeta.append(
    h('span', { text: r.storageDtype ? `${r.dtype} (stored as ${r.storageDtype})` : r.dtype }),
    h('span', { text: `shape ${formatShape(r.shape, r.shapeUnknown, ', ')}` }),
    h('span', { text: r.params === null ? 'values unknown' : `${formatCount(r.params)} values` }),
    h('span', { text: formatBytes(r.byteLength) }),
    h('span', { text: `${r.group} · ${r.role}` }),
  );
  if (d.quantization) {
    detailMeta.append(h('span', { className: 'quant', text: `quantized: ${d.quantization}` }));
  }
  if (r.fingerprint) {
    const fp = r.fingerprint;
    const copy = h('button', { className: 'link', text: 'Copy', attrs: { type: 'button', id: 'copy-tensor-fingerprint', title: 'Copy the full tensor fingerprint' } });
    copy.addEventListener('click', () => {
      messenger
        .request('copyFingerprint', { tensor: r.name })
        .then(() => toast(`Copied the fingerprint of ${r.name}.`))
        .catch(failure);
    });
    detailMeta.append(h('span', { className: 'fingerprint', attrs: { id: 'tensor-fingerprint', title: `SHA-256 of the values: ${fp}` } }, [`fingerprint ${shortFingerprint(fp)} `, copy]));
  }
  const issues = [...r.issues];
  if (d.error && !issues.some((i) => i.message === d.error!.message)) {
    issues.push({ kind: 'analysisFailed', severity: 'error', message: d.error.message });
  }
  for (const i of issues) {
    detailIssues.append(h('li', { className: `severity-${i.severity}`, text: i.message }));
  }
  const s = d.stats;
  chartsEl.hidden = !s;
  if (!s) {
    linearChart.show(undefined);
    logChart.show(undefined);
    statsTable.append(h('tr', {}, [h('td', { text: d.error ? 'No statistics: the tensor could not be read.' : 'Statistics not computed yet.' })]));
    return;
  }
  linearChart.show(s.histogram);
  logChart.show(s.logHistogram);
  const rows: [string, string][] = [
    ['count', formatCount(s.count)],
    ['mean', formatStat(s.mean)],
    ['std', formatStat(s.std)],
    ['min', formatStat(s.min)],
    ['max', formatStat(s.max)],
    ['|x| max', formatStat(s.absMax)],
    ['L1', formatStat(s.l1)],
    ['L2', formatStat(s.l2)],
    ['zeros', `${formatCount(s.zeroCount)} (${formatPercent(s.count > 0 ? s.zeroCount / s.count : 0)})`],
    ['near zero', formatPercent(s.nearZeroFraction)],
    ['skewness', formatStat(s.skewness)],
    ['excess kurtosis', formatStat(s.kurtosis)],
    ['NaN', formatCount(s.nanCount)],
    ['+Inf', formatCount(s.posInfCount)],
    ['-Inf', formatCount(s.negInfCount)],
  ];
  for (const [k, v] of Object.entries(s.percentiles)) {
    rows.push([k, formatStat(v)]);
  }
  if (s.percentileErrorBound > 0) {
    rows.push(['percentile error ≤', formatStat(s.percentileErrorBound)]);
  }
  for (const [k, v] of rows) {
    statsTable.append(h('tr', {}, [h('th', { text: k, attrs: { scope: 'row' } }), h('td', { text: v })]));
  }
}

function selectTensor(name: string, scroll = true): void {
  saveState({ selected: name });
  tensorTable.select(name, scroll);
  const id = ++detailRequest;
  messenger
    .request('getTensorDetail', { name })
    .then((d) => {
      if (id === detailRequest) {
        renderDetail(d);
      }
    })
    .catch(failure);
}

function onNotification(n: WeightsPanelNotification): void {
  switch (n.type) {
    case 'didChangeModel':
      renderSnapshot(n.snapshot);
      break;
    case 'didUpdateStats': {
      let selectedChanged = false;
      for (const u of n.updates) {
        const row = rowsByName.get(u.name);
        if (!row) {
          continue;
        }
        if (u.stats) {
          row.stats = u.stats;
        } else {
          delete row.stats;
        }
        row.issues = u.issues;
        selectedChanged ||= u.name === state.selected;
      }
      tensorTable.refresh();
      renderWarnings();
      renderAnalysis(n.analysis);
      if (selectedChanged && state.selected) {
        selectTensor(state.selected, false);
      }
      break;
    }
    case 'didChangeAnalysis':
      renderAnalysis(n.analysis);
      if (n.analysis.state !== 'running') {
        renderWarnings();
      }
      break;
    case 'didChangeDiagnostics':
      renderDiagnostics(n.diagnostics);
      break;
    case 'didChangeMetadata':
      renderMetadata(n.metadata);
      break;
    case 'didUpdateFingerprints': {
      let selectedChanged = false;
      for (const u of n.updates) {
        const row = rowsByName.get(u.name);
        if (row) {
          row.fingerprint = u.fingerprint;
          selectedChanged ||= u.name === state.selected;
        }
      }
      if (n.updates.length > 0) {
        tensorTable.refresh();
      }
      renderFingerprint(n.fingerprint);
      if (selectedChanged && state.selected) {
        selectTensor(state.selected, false);
      }
      break;
    }
  }
}

analyzeBtn.addEventListener('click', () => void messenger.request('analyze', {}).catch(failure));
cancelBtn.addEventListener('click', () => void messenger.request('cancelAnalysis', {}).catch(failure));
refreshBtn.addEventListener('click', () => void messenger.request('refresh', {}).catch(failure));
copyBtn.addEventListener('click', () => {
  const format = formatSelect.value as TableFormat;
  messenger
    .request('copyTable', { format, tensors: tensorTable.visibleRows().map((r) => r.name) })
    .then((r) => toast(`Copied ${r.rows} rows as ${formatSelect.selectedOptions[0]?.textContent ?? format}.`))
    .catch(failure);
});
exportBtn.addEventListener('click', () => {
  const format = formatSelect.value as TableFormat;
  messenger
    .request('exportTable', { format, tensors: tensorTable.visibleRows().map((r) => r.name) })
    .then((r) => {
      if (r.path) {
        toast(`Exported to ${r.path}.`);
      }
    })
    .catch(failure);
});

// Redraw the charts with the new colours when the theme changes.
onThemeChange(() => {
  linearChart.redraw();
  logChart.redraw();
  diagnosticsView.redraw();
});

// Restore UI state, then ask for data.
filterInput.value = state.filter ?? '';
tensorTable.setFilter(filterInput.value);
if (state.sortKey) {
  tensorTable.setSort(state.sortKey, state.sortDir ?? 1);
}
showTab(state.tab && sections.has(state.tab) ? state.tab : 'tensors');
body.hidden = true;
errorEl.hidden = true;
messenger.notify({ type: 'ready' });
