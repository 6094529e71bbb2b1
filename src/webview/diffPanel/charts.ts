/**
 * Charts of the diff panel: relative change by layer (horizontal bars), overlaid histograms of a
 * tensor in both files, lines over checkpoints, and a histogram-over-time heatmap drawn on a
 * plain canvas. Colours come from the VS Code theme and follow theme changes.
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
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { binAxis, binBarOptions, binPoints, binRange } from '../shared/binAxis';
import { themeColor } from '../shared/dom';
import { formatCount, formatStat } from '../shared/format';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);

/** The palette used for series, from the theme's chart colours. */
export function seriesColors(): string[] {
  return [
    themeColor('--vscode-charts-blue', '#3794ff'),
    themeColor('--vscode-charts-orange', '#d18616'),
    themeColor('--vscode-charts-green', '#89d185'),
    themeColor('--vscode-charts-purple', '#b180d7'),
    themeColor('--vscode-charts-red', '#f14c4c'),
    themeColor('--vscode-charts-yellow', '#cca700'),
  ];
}

/** A Chart.js chart on a canvas, rebuilt from a config factory (so it can follow the theme). */
export class ThemedChart {
  private chart: Chart | undefined;
  private factory: (() => ChartConfiguration) | undefined;

  constructor(private readonly canvas: HTMLCanvasElement) {}

  /** The canvas the chart draws on. */
  get canvasEl(): HTMLCanvasElement {
    return this.canvas;
  }

  /** Shows a chart built by `factory` (undefined clears it). */
  show(factory: (() => ChartConfiguration) | undefined): void {
    this.factory = factory;
    this.redraw();
  }

  /** Rebuilds with current theme colours. */
  redraw(): void {
    this.chart?.destroy();
    this.chart = undefined;
    if (this.factory) {
      this.chart = new Chart(this.canvas, this.factory());
    }
  }
}

/** Axis colours of the current theme. */
export function axisColors(): { fg: string; grid: string } {
  return { fg: themeColor('--vscode-foreground', '#888'), grid: themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)') };
}

/** Horizontal bars: relative change per layer, largest first. */
export function layerBarsConfig(layers: { layer: string; relL2: number | null }[]): ChartConfiguration {
  const { fg, grid } = axisColors();
  const color = themeColor('--vscode-charts-orange', '#d18616');
  return {
    type: 'bar',
    data: {
      labels: layers.map((l) => l.layer || '(no layer)'),
      datasets: [{ label: 'relative L2 change', data: layers.map((l) => l.relL2 ?? 0), backgroundColor: color, borderWidth: 0 }],
    },
    options: {
      indexAxis: 'y',
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: false }, tooltip: { callbacks: { label: (item) => `||B−A||/||A|| = ${formatStat(Number(item.raw))}` } } },
      scales: {
        x: { beginAtZero: true, ticks: { color: fg }, grid: { color: grid }, title: { display: true, text: '||B−A|| / ||A||', color: fg } },
        y: { ticks: { color: fg, autoSkip: false }, grid: { display: false } },
      },
    },
  };
}

/** Two histograms on the same edges, drawn as translucent overlapping bars. */
export function overlayConfig(edges: number[], countsA: number[], countsB: number[], labelA: string, labelB: string): ChartConfiguration {
  const { fg, grid } = axisColors();
  const [ca, cb] = seriesColors();
  const datasets = [];
  if (countsA.length > 0) {
    datasets.push({ label: labelA, data: binPoints(edges, countsA), backgroundColor: withAlpha(ca!, 0.55), borderColor: ca, borderWidth: 1, ...binBarOptions, grouped: false });
  }
  if (countsB.length > 0) {
    datasets.push({ label: labelB, data: binPoints(edges, countsB), backgroundColor: withAlpha(cb!, 0.55), borderColor: cb, borderWidth: 1, ...binBarOptions, grouped: false });
  }
  return {
    type: 'bar',
    data: { datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { labels: { color: fg } },
        tooltip: {
          callbacks: {
            title: (items) => binRange(edges, items[0]?.dataIndex ?? -1, false),
            label: (item) => `${item.dataset.label}: ${formatCount(item.parsed.y ?? 0)} values`,
          },
        },
      },
      scales: {
        x: binAxis(edges, 'value', fg),
        y: { beginAtZero: true, ticks: { color: fg, precision: 0 }, grid: { color: grid }, title: { display: true, text: 'count', color: fg } },
      },
    },
  };
}

/** Lines over checkpoints; a null value is a gap (the checkpoint lacks it), not a joined line. */
export function linesConfig(labels: string[], series: { label: string; data: (number | null)[] }[], yTitle: string): ChartConfiguration {
  const { fg, grid } = axisColors();
  const colors = seriesColors();
  return {
    type: 'line',
    data: {
      labels,
      datasets: series.map((s, i) => ({ label: s.label, data: s.data, borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length], pointRadius: 2, spanGaps: false })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { labels: { color: fg } } },
      scales: {
        x: { ticks: { color: fg, autoSkip: true, maxRotation: 0 }, grid: { display: false } },
        y: { ticks: { color: fg }, grid: { color: grid }, title: { display: true, text: yTitle, color: fg } },
      },
    },
  };
}

/** A colour with alpha (accepts #rgb, #rrggbb and rgb()/rgba()). */
export function withAlpha(color: string, alpha: number): string {
  const c = color.trim();
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c);
  if (hex) {
    const h = hex[1]!.length === 3 ? [...hex[1]!].map((x) => x + x).join('') : hex[1]!;
    const n = parseInt(h, 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }
  const rgb = /^rgba?\(([^)]+)\)$/.exec(c);
  if (rgb) {
    const [r, g, b] = rgb[1]!.split(',').map((x) => x.trim());
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  return c;
}

/**
 * Histograms over time as a heatmap: one row per checkpoint (top = first), one column per bin,
 * brightness = count / the row's largest count (sqrt-scaled so tails stay visible). A null row
 * (the checkpoint lacks the layer) is left empty and marked "absent".
 */
export function drawHeatmap(canvas: HTMLCanvasElement, rows: (number[] | null)[], edges: number[], rowLabels: string[]): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) {
    return;
  }
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || 600;
  const cssH = canvas.clientHeight || 240;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  const { fg } = axisColors();
  const hot = themeColor('--vscode-charts-orange', '#d18616');
  const left = 90;
  const bottom = 20;
  const w = cssW - left - 8;
  const h = cssH - bottom - 4;
  const nRows = rows.length;
  const nBins = rows.find((r) => r !== null)?.length ?? 0;
  if (nRows === 0 || nBins === 0) {
    return;
  }
  const cw = w / nBins;
  const rh = h / nRows;
  ctx.font = `11px ${getComputedStyle(document.body).fontFamily}`;
  ctx.fillStyle = fg;
  ctx.textBaseline = 'middle';
  rows.forEach((row, r) => {
    ctx.fillStyle = fg;
    if (row === null) {
      if (rh >= 9) {
        ctx.fillText('absent', left + 4, 4 + (r + 0.5) * rh);
      }
    } else {
      const max = Math.max(1, ...row);
      row.forEach((c, b) => {
        if (c > 0) {
          ctx.fillStyle = withAlpha(hot, Math.max(0.06, Math.sqrt(c / max)));
          ctx.fillRect(left + b * cw, 4 + r * rh, Math.ceil(cw), Math.ceil(rh));
        }
      });
      ctx.fillStyle = fg;
    }
    if (rh >= 9 || r % Math.ceil(9 / rh) === 0) {
      ctx.fillText(truncate(rowLabels[r] ?? '', 13), 2, 4 + (r + 0.5) * rh);
    }
  });
  ctx.textBaseline = 'top';
  ctx.fillText(formatStat(edges[0]), left, h + 6);
  const last = formatStat(edges[edges.length - 1]);
  ctx.fillText(last, left + w - ctx.measureText(last).width, h + 6);
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
