/**
 * Histogram bars on a linear value axis (src/webview/shared/binAxis.ts), laid out by Chart.js itself
 * on a canvas context that only measures text: every bar spans its bin's edges exactly, and the
 * axis ticks are round values inside the range, whatever the edges are.
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Chart, ChartConfiguration } from 'chart.js' with { 'resolution-mode': 'import' };
import { computeArrayStats } from '../../../src/analysis/tensorStats';
import { binAxis, binBarOptions, binPoints, binRange } from '../../../src/webview/shared/binAxis';

/** Chart.js (an ES module) with what the histograms use registered. */
const chartJs = import('chart.js').then((c) => {
  c.Chart.register(c.BarController, c.BarElement, c.LinearScale);
  return c;
});

/** A 2-D context that draws nothing and measures text as 6 px per character. */
function measuringContext(width: number, height: number): ConstructorParameters<typeof Chart>[0] {
  const canvas: Record<string, unknown> = { width, height, style: {} };
  const target: Record<string, unknown> = {
    canvas,
    measureText: (text: string) => ({ width: 6 * String(text).length }),
  };
  const context = new Proxy(target, {
    // every other member is a drawing method that does nothing (`length` stays undefined: Chart.js
    // takes an item with a length for a list of canvases)
    get: (t, key: string) => (key in t ? t[key] : key === 'length' ? undefined : () => undefined),
    set: (t, key: string, value) => {
      t[key] = value;
      return true;
    },
  });
  canvas.getContext = () => context;
  return context as unknown as ConstructorParameters<typeof Chart>[0];
}

/** Lays the histogram out with Chart.js and returns the chart. */
async function layOut(edges: number[], counts: number[], log = false): Promise<Chart<'bar', { x: number; y: number }[]>> {
  const { BasicPlatform, Chart } = await chartJs;
  const config: ChartConfiguration<'bar', { x: number; y: number }[]> = {
    type: 'bar',
    data: { datasets: [{ data: binPoints(edges, counts), borderWidth: 0, ...binBarOptions }] },
    options: { animation: false, responsive: false, plugins: { legend: { display: false } }, scales: { x: binAxis(edges, log ? 'log10 |x|' : 'value', '#888'), y: { beginAtZero: true } } },
    platform: BasicPlatform,
  };
  return new Chart(measuringContext(400, 200), config);
}

/** Asserts that bar i covers [edge i, edge i+1] in pixels (to a hundredth of a pixel). */
function assertBarsOnEdges(chart: Chart<'bar', { x: number; y: number }[]>, edges: number[]): void {
  const x = chart.scales.x!;
  const bars = chart.getDatasetMeta(0).data as unknown as { x: number; width: number }[];
  assert.equal(bars.length, edges.length - 1);
  bars.forEach((bar, i) => {
    assert.ok(Math.abs(bar.x - bar.width / 2 - x.getPixelForValue(edges[i]!)) < 0.01, `bar ${i} starts at its left edge`);
    assert.ok(Math.abs(bar.x + bar.width / 2 - x.getPixelForValue(edges[i + 1]!)) < 0.01, `bar ${i} ends at its right edge`);
  });
}

test('linear histogram of uneven edges: bars span their bins, ticks are round values inside the range', async () => {
  // Values whose min and max make edges like -2.84, -2.112, ..., as a real kernel's do.
  const values = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i * 12.9898) * 2.84 - (i % 7 === 0 ? 0 : 0.723));
  const stats = computeArrayStats(values, { histogramBins: 64 });
  const { edges, counts } = stats.histogram;
  assert.equal(edges.length, 65);
  const chart = await layOut(edges, counts);
  assertBarsOnEdges(chart, edges);
  const ticks = chart.scales.x!.ticks.map((t) => t.value);
  assert.ok(ticks.length >= 3, `at least three ticks (${ticks.join(', ')})`);
  const step = ticks[1]! - ticks[0]!;
  for (const v of ticks) {
    assert.ok(v >= edges[0]! && v <= edges[64]!, `tick ${v} inside [${edges[0]}, ${edges[64]}]`);
    // round: a whole number of steps of 1, 2 or 5 times a power of ten
    const k = v / step;
    assert.ok(Math.abs(k - Math.round(k)) < 1e-9, `tick ${v} is a multiple of the step ${step}`);
    const mantissa = step / 10 ** Math.floor(Math.log10(step));
    assert.ok([1, 2, 2.5, 5].some((m) => Math.abs(m - mantissa) < 1e-9), `step ${step} is 1, 2 or 5 times a power of ten`);
  }
  chart.destroy();
});

test('one bin (all values equal) fills the axis; log histogram bars span their exponent bins', async () => {
  const flat = computeArrayStats(new Float32Array(10).fill(3), { histogramBins: 1 });
  assert.deepEqual(flat.histogram.edges, [2.5, 3.5]);
  const one = await layOut(flat.histogram.edges, flat.histogram.counts);
  assertBarsOnEdges(one, flat.histogram.edges);
  one.destroy();

  const spread = computeArrayStats(Float64Array.from({ length: 1000 }, (_, i) => 10 ** (-4 + (i % 97) / 16)), { histogramBins: 64 });
  const log = await layOut(spread.logHistogram.edges, spread.logHistogram.counts, true);
  assertBarsOnEdges(log, spread.logHistogram.edges);
  log.destroy();
});

test('bin ranges in tooltips: half-open bins, the last one closed', () => {
  assert.equal(binRange([0, 0.5, 1], 0, false), '[0, 0.5)');
  assert.equal(binRange([0, 0.5, 1], 1, false), '[0.5, 1]');
  assert.equal(binRange([-3, -2, -1], 0, true), 'log10 |x| in [-3.00, -2.00): |x| in [0.001, 0.01)');
  assert.equal(binRange([0, 1], 5, false), '');
});
