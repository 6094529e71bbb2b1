/**
 * The Diagnostics tab of the weights panel: the findings of the weight-health check grouped by
 * severity (each with its layer/tensor, message and an evidence disclosure) and the data-free
 * signal forecast (cumulative forward and backward gain per layer, log scale, with the healthy
 * band). Every name and message from a file is inserted as text.
 */
import {
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import type { CheckReportDto, DiagnosticDto, DiagnosticsSnapshotDto } from '../../protocol/weightsPanel';
import { clear, h, themeColor } from '../shared/dom';
import { formatStat } from '../shared/format';

Chart.register(CategoryScale, Filler, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Tooltip);

/** Counts of error and warning diagnostics of one layer or tensor. */
export interface DiagnosticCounts {
  /** Error diagnostics. */
  errors: number;
  /** Warning diagnostics. */
  warnings: number;
  /** Info diagnostics. */
  infos: number;
  /** Messages of the errors and warnings, for tooltips. */
  messages: string[];
}

const severities: { id: DiagnosticDto['severity']; title: string; glyph: string }[] = [
  { id: 'error', title: 'Errors', glyph: '✕' },
  { id: 'warning', title: 'Warnings', glyph: '⚠' },
  { id: 'info', title: 'Information', glyph: 'ℹ' },
];

/** A hex theme colour at 13% opacity (other colour syntaxes get a neutral translucent green). */
function translucent(color: string): string {
  return /^#[0-9a-f]{6}$/i.test(color) ? `${color}22` : 'rgba(137, 209, 133, 0.13)';
}

/** Diagnostics counted per key (layer or tensor name). */
export function countDiagnostics(report: CheckReportDto | undefined, key: (d: DiagnosticDto) => string | undefined): Map<string, DiagnosticCounts> {
  const out = new Map<string, DiagnosticCounts>();
  for (const d of report?.diagnostics ?? []) {
    const k = key(d);
    if (k === undefined) {
      continue;
    }
    let c = out.get(k);
    if (!c) {
      c = { errors: 0, warnings: 0, infos: 0, messages: [] };
      out.set(k, c);
    }
    if (d.severity === 'error') {
      c.errors++;
    } else if (d.severity === 'warning') {
      c.warnings++;
    } else {
      c.infos++;
    }
    if (d.severity !== 'info') {
      c.messages.push(`${d.severity}: ${d.message}`);
    }
  }
  return out;
}

/** Badge text of a count ('2 ✕ 1 ⚠'), '' when no errors or warnings. */
export function badgeText(c: DiagnosticCounts | undefined): string {
  if (!c) {
    return '';
  }
  return [c.errors > 0 ? `${c.errors} ✕` : '', c.warnings > 0 ? `${c.warnings} ⚠` : ''].filter((s) => s !== '').join(' ');
}

/** Badge class of a count (worst severity), undefined when no errors or warnings. */
export function badgeClass(c: DiagnosticCounts | undefined): string | undefined {
  return c && c.errors > 0 ? 'diag-badge-cell severity-error' : c && c.warnings > 0 ? 'diag-badge-cell severity-warning' : undefined;
}

function evidenceText(v: string | number | boolean | null): string {
  return typeof v === 'number' ? formatStat(v) : v === null ? '—' : String(v);
}

/** The Diagnostics tab. */
export class DiagnosticsView {
  /** Root element to insert in the tab section. */
  readonly element: HTMLDivElement;
  private readonly statusEl = h('div', { className: 'diag-status', attrs: { id: 'diagnostics-status', role: 'status' } });
  private readonly listEl = h('div', { className: 'diag-list', attrs: { id: 'diagnostics-list' } });
  private readonly canvas = h('canvas', { attrs: { id: 'forecast-chart', role: 'img', 'aria-label': 'Signal forecast: cumulative forward and backward gain per layer' } });
  private readonly forecastNote = h('p', { className: 'hint' });
  private readonly forecastEl: HTMLElement;
  private chart: Chart<'line'> | undefined;
  private snapshot: DiagnosticsSnapshotDto | undefined;

  constructor(
    /** Called when a finding is clicked, with its tensor and layer. */
    private readonly onSelect: (tensor: string | undefined, layer: string | undefined) => void,
  ) {
    this.forecastEl = h('figure', { className: 'forecast' }, [
      h('figcaption', { text: 'Signal forecast: cumulative gain per layer (data-free; healthy band shaded)' }),
      h('div', { className: 'forecast-box' }, [this.canvas]),
      this.forecastNote,
    ]);
    this.element = h('div', { className: 'diagnostics' }, [this.statusEl, h('div', { className: 'diag-split' }, [this.listEl, this.forecastEl])]);
  }

  /** Shows a snapshot (status and, when done, the full report). */
  render(snapshot: DiagnosticsSnapshotDto): void {
    this.snapshot = snapshot;
    const s = snapshot.status;
    const r = snapshot.report;
    document.body.dataset.diagnostics = s.state;
    switch (s.state) {
      case 'disabled':
        this.statusEl.textContent = 'Diagnostics are off (setting weightscope.diagnostics.enabled).';
        break;
      case 'waiting':
        this.statusEl.textContent = 'Diagnostics run once the statistics are complete.';
        break;
      case 'running':
        this.statusEl.textContent = s.total > 0 ? `Checking… ${s.done} of ${s.total} tensor reads` : 'Checking…';
        break;
      case 'cancelled':
        this.statusEl.textContent = 'Diagnostics cancelled; Refresh runs them again.';
        break;
      case 'failed':
        this.statusEl.textContent = `Diagnostics failed: ${s.error?.message ?? 'unknown error'}`;
        break;
      case 'done':
        this.statusEl.textContent = r
          ? `${r.summary.errors} errors, ${r.summary.warnings} warnings, ${r.summary.infos} notes · ${r.summary.sampledTensors} kernels sampled` +
            (r.summary.failedTensors > 0 ? ` · ${r.summary.failedTensors} tensors unreadable` : '')
          : '';
        break;
    }
    this.statusEl.classList.toggle('severity-error', s.state === 'failed');
    this.renderList(s.state === 'done' ? r : undefined);
    this.forecastEl.hidden = !(s.state === 'done' && r && r.forecast.layers.length > 0);
    this.drawChart();
  }

  /** Redraws the chart with the current theme colours. */
  redraw(): void {
    this.drawChart();
  }

  private renderList(report: CheckReportDto | undefined): void {
    clear(this.listEl);
    if (!report) {
      return;
    }
    if (report.diagnostics.length === 0) {
      this.listEl.append(h('p', { className: 'none', text: 'No findings: the weights look healthy.' }));
    }
    for (const sev of severities) {
      const items = report.diagnostics.filter((d) => d.severity === sev.id);
      if (items.length === 0) {
        continue;
      }
      const ul = h('ul', { className: 'diag-items' });
      for (const d of items) {
        ul.append(this.item(d, sev.glyph));
      }
      this.listEl.append(
        h('section', { className: `diag-group diag-group-${sev.id}`, attrs: { 'data-severity': sev.id } }, [
          h('h3', { className: `severity-${sev.id}`, text: `${sev.title} (${items.length})` }),
          ul,
        ]),
      );
    }
    for (const f of report.failures) {
      this.listEl.append(h('p', { className: 'diag-failure severity-warning', text: `${f.tensor}: [${f.reason}] ${f.message}` }));
    }
  }

  private item(d: DiagnosticDto, glyph: string): HTMLLIElement {
    const target = d.tensor ?? d.layer;
    const head = h('div', { className: 'diag-head' }, [
      h('span', { className: `diag-badge badge-${d.severity}`, text: glyph, attrs: { 'aria-label': d.severity } }),
      h('code', { className: 'diag-code', text: d.code }),
    ]);
    if (target !== undefined) {
      const link = h('button', { className: 'link diag-target', text: target, attrs: { type: 'button' } });
      link.addEventListener('click', () => this.onSelect(d.tensor, d.layer));
      head.append(link);
    }
    const evidence = Object.entries(d.evidence);
    const li = h('li', { className: `diag-item diag-${d.severity}`, attrs: { 'data-code': d.code } }, [head, h('div', { className: 'diag-message', text: d.message })]);
    if (evidence.length > 0) {
      const table = h('table', { className: 'stats diag-evidence' });
      for (const [k, v] of evidence) {
        table.append(h('tr', {}, [h('th', { text: k, attrs: { scope: 'row' } }), h('td', { text: evidenceText(v) })]));
      }
      li.append(h('details', {}, [h('summary', { text: 'Evidence' }), table]));
    }
    return li;
  }

  private drawChart(): void {
    this.chart?.destroy();
    this.chart = undefined;
    const r = this.snapshot?.status.state === 'done' ? this.snapshot.report : undefined;
    const f = r?.forecast;
    if (!f || f.layers.length === 0) {
      this.forecastNote.textContent = '';
      return;
    }
    const fg = themeColor('--vscode-foreground', '#888');
    const grid = themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
    const fwd = themeColor('--vscode-charts-blue', '#3794ff');
    const bwd = themeColor('--vscode-charts-orange', '#d18616');
    const band = themeColor('--vscode-charts-green', '#89d185');
    const positive = (v: number | null): number | null => (v !== null && v > 0 ? v : null);
    const labels = f.layers.map((l) => l.name);
    const low = f.lowerBound;
    const high = f.upperBound;
    const values = f.layers.flatMap((l) => [positive(l.cumulativeForward), positive(l.cumulativeBackward)]).filter((v): v is number => v !== null);
    const minY = Math.min(low / 10, ...values);
    const maxY = Math.max(high * 10, ...values);
    const config: ChartConfiguration<'line'> = {
      type: 'line',
      data: {
        labels,
        datasets: [
          { label: 'healthy band low', data: labels.map(() => low), borderColor: band, borderDash: [4, 4], borderWidth: 1, pointRadius: 0, fill: false },
          {
            label: `healthy band [${formatStat(low)}, ${formatStat(high)}]`,
            data: labels.map(() => high),
            borderColor: band,
            borderDash: [4, 4],
            borderWidth: 1,
            pointRadius: 0,
            fill: { target: 0 },
            backgroundColor: translucent(band),
          },
          { label: 'forward (activations)', data: f.layers.map((l) => positive(l.cumulativeForward)), borderColor: fwd, backgroundColor: fwd, pointRadius: 3, borderWidth: 2, fill: false },
          { label: 'backward (gradients)', data: f.layers.map((l) => positive(l.cumulativeBackward)), borderColor: bwd, backgroundColor: bwd, pointRadius: 3, borderWidth: 2, fill: false },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { labels: { color: fg, boxWidth: 12, filter: (item) => item.datasetIndex !== 0 } }, // one legend entry for the band
          tooltip: { callbacks: { label: (item) => `${item.dataset.label ?? ''}: ${formatStat(Number(item.raw))}` } },
        },
        scales: {
          x: { ticks: { color: fg, maxRotation: 45, autoSkip: true }, grid: { display: false }, title: { display: true, text: 'layer', color: fg } },
          y: {
            type: 'logarithmic',
            min: 10 ** Math.floor(Math.log10(minY)),
            max: 10 ** Math.ceil(Math.log10(maxY)),
            ticks: { color: fg, callback: (v) => (Number.isInteger(Math.log10(Number(v))) ? `1e${Math.log10(Number(v))}` : '') },
            grid: { color: grid },
            title: { display: true, text: 'cumulative variance gain', color: fg },
          },
        },
      },
    };
    this.chart = new Chart(this.canvas, config);
    const skipped = f.skipped.length > 0 ? ` ${f.skipped.length} layers skipped (${f.skipped.map((s) => s.name).join(', ')}).` : '';
    const unjudged = f.architecture === false ? ' The file has no architecture: layers in file order, activations unknown, so the forecast is not judged against the band.' : '';
    this.forecastNote.textContent = `Forward: activation scale² after each layer relative to the input's; backward: gradient scale² at each layer relative to the output's.${skipped}${unjudged}`;
  }
}
