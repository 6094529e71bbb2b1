/**
 * Linear and log10|x| histograms with Chart.js (bundled, tree-shaken registration), coloured from
 * the VS Code theme's CSS variables and redrawn when the theme changes.
 */
import { BarController, BarElement, Chart, LinearScale, Tooltip, type ChartConfiguration } from 'chart.js';
import type { HistogramDto as Histogram } from '../../protocol/weightsPanel';
import { binAxis, binBarOptions, binPoints, binRange } from '../shared/binAxis';
import { themeColor } from '../shared/dom';
import { formatCount } from '../shared/format';

Chart.register(BarController, BarElement, LinearScale, Tooltip);

/** One histogram chart bound to a canvas. */
export class HistogramChart {
  private chart: Chart<'bar', { x: number; y: number }[]> | undefined;
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
    const edges = hist.edges;
    const config: ChartConfiguration<'bar', { x: number; y: number }[]> = {
      type: 'bar',
      data: { datasets: [{ data: binPoints(edges, hist.counts), backgroundColor: bar, borderWidth: 0, ...binBarOptions }] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (items) => binRange(edges, items[0]?.dataIndex ?? -1, this.log),
              label: (item) => `${formatCount(item.parsed.y ?? 0)} values`,
            },
          },
        },
        scales: {
          x: binAxis(edges, this.log ? 'log10 |x|' : 'value', fg),
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
