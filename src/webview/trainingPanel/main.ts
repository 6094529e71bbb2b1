/**
 * The training panel: live loss/accuracy curves (train and validation, every run side by side),
 * per-layer gradient norm, update ratio and weight norm over steps (log scales), warnings as they
 * happen, a Cancel button; in probe mode the gradient norm by depth (log scale) with the measured
 * verdicts next to the forecast from the weights alone. Names from files are inserted as text.
 * Every snapshot is saved with setState: after a window reload the host restores the panel from it.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import type { DiagnosticDto, TrainingPanelEvent, TrainingPanelNotification, TrainingPanelRequests, TrainingPanelStateDto } from '../../protocol/trainingPanel';
import { clear, h, onThemeChange, themeColor as color } from '../shared/dom';
import { formatStat } from '../shared/format';
import { WebviewMessenger } from '../shared/messenger';
import { vscodeApi } from '../shared/vscodeApi';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LogarithmicScale, LineController, LineElement, PointElement, Legend, Tooltip);

const api = vscodeApi<TrainingPanelStateDto>();
const messenger = new WebviewMessenger<TrainingPanelRequests, TrainingPanelNotification, TrainingPanelEvent>((n) => {
  if (n.type === 'state') {
    api.setState(n.state);
    render(n.state);
  }
});

function palette(): string[] {
  return [
    color('--vscode-charts-blue', '#3794ff'),
    color('--vscode-charts-orange', '#d18616'),
    color('--vscode-charts-green', '#89d185'),
    color('--vscode-charts-purple', '#b180d7'),
    color('--vscode-charts-red', '#f14c4c'),
    color('--vscode-charts-yellow', '#cca700'),
  ];
}

const app = document.getElementById('app')!;
const title = h('h1', { attrs: { id: 'training-title' } });
const backendEl = h('div', { className: 'backend', attrs: { id: 'training-backend' } });
const dataEl = h('div', { className: 'backend', attrs: { id: 'training-data' } });
const statusEl = h('div', { className: 'status-line', attrs: { role: 'status', id: 'training-status' } });
const cancelBtn = h('button', { text: 'Cancel', className: 'secondary', attrs: { type: 'button', id: 'training-cancel' } });
cancelBtn.addEventListener('click', () => messenger.notify({ type: 'cancel' }));
const warningsEl = h('ul', { className: 'warnings', attrs: { id: 'training-warnings' } });
const summaryEl = h('table', { className: 'summary', attrs: { id: 'training-summary' } });

interface Slot {
  canvas: HTMLCanvasElement;
  chart?: Chart;
}
function slot(id: string, label: string): Slot {
  return { canvas: h('canvas', { attrs: { id, role: 'img', 'aria-label': label } }) };
}
const lossSlot = slot('chart-loss', 'Loss over epochs and steps');
const accSlot = slot('chart-acc', 'Accuracy over epochs');
const gradSlot = slot('chart-grad', 'Gradient norm per layer over steps');
const updateSlot = slot('chart-update', 'Update ratio per layer over steps');
const weightSlot = slot('chart-weight', 'Weight norm per layer over steps');
const depthSlot = slot('chart-depth', 'Gradient norm by depth');
const probeDiagEl = h('div', { className: 'probe-diagnostics', attrs: { id: 'probe-diagnostics' } });

const trainSection = h('section', { attrs: { id: 'training-charts' } }, [
  h('div', { className: 'chart' }, [h('h2', { text: 'Loss' }), lossSlot.canvas]),
  h('div', { className: 'chart' }, [h('h2', { text: 'Accuracy' }), accSlot.canvas]),
  h('div', { className: 'chart' }, [h('h2', { text: 'Gradient norm by layer' }), gradSlot.canvas]),
  h('div', { className: 'chart' }, [h('h2', { text: 'Update ratio |Δw|/|w| by layer' }), updateSlot.canvas]),
  h('div', { className: 'chart' }, [h('h2', { text: 'Weight norm by layer' }), weightSlot.canvas]),
]);
const probeSection = h('section', { attrs: { id: 'probe-section' } }, [
  h('div', { className: 'chart' }, [h('h2', { text: 'Gradient norm by depth (log scale)' }), depthSlot.canvas]),
  probeDiagEl,
]);
app.append(
  h('header', {}, [title, backendEl, dataEl, h('div', { className: 'toolbar' }, [statusEl, cancelBtn])]),
  warningsEl,
  summaryEl,
  trainSection,
  probeSection,
);

function draw(s: Slot, config: ChartConfiguration): void {
  if (s.chart && (s.chart.config as { type?: string }).type === config.type) {
    s.chart.data = config.data;
    s.chart.options = config.options ?? {};
    s.chart.update('none');
    return;
  }
  s.chart?.destroy();
  s.chart = new Chart(s.canvas, config);
}

function positive(v: number | null): number | null {
  return v !== null && v > 0 ? v : null;
}

function lineConfig(datasets: { label: string; data: { x: number; y: number | null }[] }[], log: boolean, xLabel: string): ChartConfiguration {
  const fg = color('--vscode-foreground', '#888');
  const grid = color('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
  const colors = palette();
  return {
    type: 'line',
    data: {
      datasets: datasets.map((d, i) => ({
        label: d.label,
        data: d.data as { x: number; y: number }[],
        borderColor: colors[i % colors.length],
        backgroundColor: colors[i % colors.length],
        borderDash: d.label.includes('val') ? [5, 3] : [],
        pointRadius: 0,
        borderWidth: 1.5,
        spanGaps: true,
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: { type: 'linear', title: { display: true, text: xLabel, color: fg }, ticks: { color: fg, precision: 0 }, grid: { color: grid } },
        y: { type: log ? 'logarithmic' : 'linear', ticks: { color: fg }, grid: { color: grid } },
      },
      plugins: { legend: { labels: { color: fg, boxWidth: 12 } } },
    },
  };
}

function diagItem(d: DiagnosticDto): HTMLLIElement {
  return h('li', { className: `sev-${d.severity}` }, [h('span', { className: 'code', text: `${d.severity}[${d.code}]` }), ` ${d.layer ? `${d.layer}: ` : ''}${d.message}`]);
}

function render(s: TrainingPanelStateDto): void {
  title.textContent = s.title;
  backendEl.textContent = s.backend ? `Backend: ${s.backend}${s.fallbacks.length ? ` — ${s.fallbacks.join(' ')}` : ''}` : 'Backend: starting…';
  dataEl.textContent = s.data ? `Data: ${s.data}` : '';
  dataEl.hidden = !s.data;
  statusEl.textContent = s.message;
  statusEl.title = s.restored ? 'Restored after a window reload' : '';
  statusEl.dataset['status'] = s.status;
  cancelBtn.hidden = s.status !== 'running';
  clear(warningsEl);
  for (const w of s.warnings.slice(-20)) {
    warningsEl.append(diagItem(w));
  }
  trainSection.hidden = s.mode === 'probe';
  probeSection.hidden = s.mode !== 'probe';
  if (s.mode === 'probe') {
    renderProbe(s);
    return;
  }
  const multi = s.runs.length > 1;
  const prefix = (name: string) => (multi ? `${name} ` : '');
  // runs without epochs (the precision experiment's quantized copies) have no curves
  const trained = s.runs.filter((r) => r.epochs.length > 0);
  draw(
    lossSlot,
    lineConfig(
      trained.flatMap((r) => [
        { label: `${prefix(r.name)}loss`, data: r.epochs.map((e) => ({ x: e.epoch, y: e.loss })) },
        { label: `${prefix(r.name)}val_loss`, data: r.epochs.map((e) => ({ x: e.epoch, y: e.valLoss })) },
      ]),
      false,
      'epoch',
    ),
  );
  draw(
    accSlot,
    lineConfig(
      trained.flatMap((r) => [
        { label: `${prefix(r.name)}acc`, data: r.epochs.map((e) => ({ x: e.epoch, y: e.acc })) },
        { label: `${prefix(r.name)}val_acc`, data: r.epochs.map((e) => ({ x: e.epoch, y: e.valAcc })) },
      ]),
      false,
      'epoch',
    ),
  );
  const perLayer = (k: 0 | 1 | 2) =>
    s.runs.flatMap((r) => r.layers.map((layer, li) => ({ label: `${prefix(r.name)}${layer}`, data: r.steps.map((st) => ({ x: st.step, y: positive(st.layers[li]?.[k] ?? null) })) })));
  draw(gradSlot, lineConfig(perLayer(1), true, 'step'));
  draw(updateSlot, lineConfig(perLayer(2), true, 'step'));
  draw(weightSlot, lineConfig(perLayer(0), false, 'step'));
  clear(summaryEl);
  summaryEl.append(
    h('tr', {}, ['run', 'epochs', 'loss', 'val_loss', 'acc', 'val_acc', 'drift', 'accuracy', 'probe verdicts'].map((c) => h('th', { text: c }))),
  );
  for (const r of s.runs) {
    const last = r.epochs[r.epochs.length - 1];
    summaryEl.append(
      h('tr', { attrs: { 'data-run': r.name } }, [
        h('td', { text: r.name }),
        h('td', { text: String(r.epochs.length) }),
        h('td', { text: formatStat(last?.loss) }),
        h('td', { text: formatStat(last?.valLoss) }),
        h('td', { text: formatStat(last?.acc) }),
        h('td', { text: formatStat(last?.valAcc) }),
        h('td', { text: r.outputDrift !== undefined ? formatStat(r.outputDrift) : '' }),
        h('td', { text: r.accuracy !== undefined ? formatStat(r.accuracy) : '' }),
        h('td', { text: r.diagnostics ? r.diagnostics.map((d) => d.code).join(', ') || 'none' : '' }),
      ]),
    );
  }
}

function renderProbe(s: TrainingPanelStateDto): void {
  const p = s.probe;
  clear(summaryEl);
  clear(probeDiagEl);
  if (!p) {
    return;
  }
  const withWeights = p.layers.filter((l) => l.gradNorm !== null);
  const fg = color('--vscode-foreground', '#888');
  // the log axis starts a decade below the smallest norm, so the smallest bar stays visible
  const smallest = Math.min(...withWeights.map((l) => l.gradNorm ?? Infinity).filter((v) => v > 0));
  const yMin = Number.isFinite(smallest) ? 10 ** Math.floor(Math.log10(smallest) - 1e-9) : undefined;
  draw(depthSlot, {
    type: 'bar',
    data: { labels: withWeights.map((l) => l.layer), datasets: [{ label: 'gradient L2 norm', data: withWeights.map((l) => l.gradNorm ?? 0), backgroundColor: palette()[0] }] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: { x: { ticks: { color: fg } }, y: { type: 'logarithmic', ...(yMin !== undefined ? { min: yMin } : {}), ticks: { color: fg } } },
      plugins: { legend: { labels: { color: fg } } },
    },
  });
  summaryEl.append(
    h('tr', {}, ['layer', 'class', 'activation', 'grad norm', 'grad/weight', 'act std', 'dead relu', 'saturated'].map((c) => h('th', { text: c }))),
    ...p.layers.map((l) =>
      h('tr', { className: l.layer === p.firstNonFiniteLayer ? 'non-finite' : '' }, [
        h('td', { text: l.layer }),
        h('td', { text: l.className }),
        h('td', { text: l.activation ?? '' }),
        h('td', { text: formatStat(l.gradNorm) }),
        h('td', { text: formatStat(l.gradWeightRatio) }),
        h('td', { text: formatStat(l.activationStd) }),
        h('td', { text: l.deadReluFraction === null ? '' : formatStat(l.deadReluFraction) }),
        h('td', { text: l.saturatedFraction === null ? '' : formatStat(l.saturatedFraction) }),
      ]),
    ),
  );
  const column = (heading: string, list: DiagnosticDto[], empty: string) =>
    h('div', { className: 'diag-column' }, [h('h2', { text: heading }), h('ul', {}, list.length ? list.map(diagItem) : [h('li', { text: empty })])]);
  probeDiagEl.append(
    h('p', { text: `${p.loss}; ${p.batch}` }),
    column('Measured (gradient probe)', p.diagnostics, 'No vanishing or exploding gradients measured.'),
    column('Forecast (weights alone)', p.forecastDiagnostics, 'No vanishing or exploding signal forecast.'),
  );
}

// Redraw the charts (and the probe's) with the new colours when the theme changes.
onThemeChange(() => {
  const current = api.getState();
  if (current) {
    render(current);
  }
});

const saved = api.getState();
if (saved) {
  render(saved);
}
messenger.notify({ type: 'ready' });
