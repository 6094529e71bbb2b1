/**
 * Histograms as bars on a linear value axis: each bar spans its bin [e_i, e_i+1) exactly, and the
 * axis shows round values at their true positions. (On a category axis a tick sits at a bin's
 * centre, so a label naming an edge there is half a bin off, and the labels are whatever the edges
 * happen to be, e.g. -0.6574.) Bins of one histogram are equally wide (in log10 |x| for the log
 * histogram), which the bars' 'flex' thickness relies on.
 */
import { formatStat } from './format';

/** A bar at its bin's centre. */
export interface BinPoint {
  x: number;
  y: number;
}

/** One point per bin: its centre and its count. */
export function binPoints(edges: readonly number[], counts: readonly number[]): BinPoint[] {
  const points: BinPoint[] = [];
  for (let i = 0; i < counts.length && i + 1 < edges.length; i++) {
    const a = edges[i]!;
    const b = edges[i + 1]!;
    points.push({ x: a + (b - a) / 2, y: counts[i]! });
  }
  return points;
}

/**
 * What bin `i` holds, for a tooltip: "[a, b)" (the last bin closed, as the statistics count it), or
 * for the log histogram its exponents and the |x| range they stand for.
 */
export function binRange(edges: readonly number[], i: number, log: boolean): string {
  const a = edges[i];
  const b = edges[i + 1];
  if (a === undefined || b === undefined) {
    return '';
  }
  const close = i + 2 === edges.length ? ']' : ')';
  return log
    ? `log10 |x| in [${a.toFixed(2)}, ${b.toFixed(2)}${close}: |x| in [${formatStat(10 ** a)}, ${formatStat(10 ** b)}${close}`
    : `[${formatStat(a)}, ${formatStat(b)}${close}`;
}

/** Options of a bar dataset drawn on binAxis: each bar exactly as wide as its bin. */
export const binBarOptions = { barThickness: 'flex', barPercentage: 1, categoryPercentage: 1 } as const;

/** The x scale of a histogram: linear from the first edge to the last, round ticks, no grid. */
export function binAxis(edges: readonly number[], title: string, color: string) {
  return {
    type: 'linear' as const,
    min: edges[0],
    max: edges[edges.length - 1],
    offset: false,
    ticks: { color, maxRotation: 0, autoSkip: true, maxTicksLimit: 7, includeBounds: false, callback: (v: number | string) => formatStat(Number(v)) },
    grid: { display: false },
    title: { display: true, text: title, color },
  };
}
