/**
 * Linear and log10|x| histograms with Chart.js (bundled, tree-shaken registration), coloured from
 * the VS Code theme's CSS variables and redrawn when the theme changes.
 */
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip, type ChartConfiguration } from 'chart.js';
import type { HistogramDto as Histogram } from '../../protocol/weightsPanel';
import { formatCount, formatStat } from '../shared/format';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

/** Reads a theme colour (a --vscode-* CSS variable) with a fallback. */
function themeColor(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

/** Labels of the bins ("[a, b)"), values formatted for humans. */
function binLabels(edges: number[], log: boolean): string[] {
  const labels: string[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const a = edges[i]!;
    const b = edges[i + 1]!;
    labels.push(log ? `log10 |x| in [${a.toFixed(2)}, ${b.toFixed(2)}): |x| in [${formatStat(10 ** a)}, ${formatStat(10 ** b)})` : `[${formatStat(a)}, ${formatStat(b)})`);
  }
  return labels;
}

/** One histogram chart bound to a canvas. */
export class HistogramChart {
  private chart: Chart<'bar'> | undefined;
  private data: Histogram | undefined;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly log: boolean,
  ) {}

  /** Shows a histogram (or clears the chart when undefined). */
  show(histogram: Histogram | undefined): void {
    this.data = histogram;
    this.draw();
  }

  /** Redraws with the current theme colours. */
  redraw(): void {
    this.draw();
  }

  private draw(): void {
    this.chart?.destroy();
    this.chart = undefined;
    const hist = this.data;
    if (!hist || hist.counts.length === 0) {
      return;
    }
    const fg = themeColor('--vscode-foreground', '#888');
    const grid = themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
    const bar = themeColor(this.log ? '--vscode-charts-purple' : '--vscode-charts-blue', '#3794ff');
    const labels = binLabels(hist.edges, this.log);
    const tickLabel = (i: number): string => {
      const e = hist.edges[i];
      return e === undefined ? '' : this.log ? e.toFixed(1) : formatStat(e);
    };
    const config: ChartConfiguration<'bar'> = {
      type: 'bar',
      data: { labels, datasets: [{ data: hist.counts, backgroundColor: bar, borderWidth: 0, barPercentage: 1, categoryPercentage: 1 }] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (item) => `${formatCount(Number(item.raw))} values` } },
        },
        scales: {
          x: {
            ticks: { color: fg, maxRotation: 0, autoSkip: true, maxTicksLimit: 6, callback: (_v, i) => tickLabel(i) },
            grid: { display: false },
            title: { display: true, text: this.log ? 'log10 |x|' : 'value', color: fg },
          },
          y: { beginAtZero: true, ticks: { color: fg, precision: 0 }, grid: { color: grid }, title: { display: true, text: 'count', color: fg } },
        },
      },
    };
    this.chart = new Chart(this.canvas, config);
  }

  /** Releases the chart. */
  dispose(): void {
    this.chart?.destroy();
    this.chart = undefined;
  }
}
