/**
 * Number formatting for tables and stats.
 */

/** A statistic: 4 significant digits, exponent for very small/large values, '–' when absent. */
export function formatStat(v: number | null | undefined): string {
  if (v === null || v === undefined) {
    return '–';
  }
  if (v === 0) {
    return '0';
  }
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

/** An integer with thousands separators. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** A byte count in B/KiB/MiB/GiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** A fraction as a percentage with one decimal. */
export function formatPercent(f: number): string {
  return `${(100 * f).toFixed(1)}%`;
}

/**
 * A shape as text: '[3,4]' (dimensions joined by `separator`), '?' for an unknown dimension
 * ('[?,4]') or rank ('?'). The host's core/model.ts shapeText, which webviews cannot import.
 */
export function formatShape(shape: readonly number[], shapeUnknown: boolean | undefined, separator = ','): string {
  if (shapeUnknown && shape.length === 0) {
    return '?';
  }
  return `[${shape.map((d) => (shapeUnknown && d < 0 ? '?' : String(d))).join(separator)}]`;
}
