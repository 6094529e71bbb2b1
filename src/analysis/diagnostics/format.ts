/**
 * Number formatting shared by the rule messages (3 significant digits, exponent for extremes).
 */

/** A number for a message: 3 significant digits, exponent notation outside [1e-3, 1e4). */
export function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) {
    return 'n/a';
  }
  if (!Number.isFinite(x)) {
    return x > 0 ? 'inf' : '-inf';
  }
  if (x === 0) {
    return '0';
  }
  const a = Math.abs(x);
  return a >= 1e4 || a < 1e-3 ? x.toExponential(2) : String(Number(x.toPrecision(3)));
}

/** A fraction as a percentage with up to 2 decimals. */
export function pct(x: number): string {
  return `${Number((x * 100).toFixed(x < 0.001 ? 3 : 2))}%`;
}

/** Rounds for evidence (6 significant digits), keeping 0 and nulls. */
export function ev(x: number | null | undefined): number | null {
  if (x === null || x === undefined || !Number.isFinite(x)) {
    return null;
  }
  return x === 0 ? 0 : Number(x.toPrecision(6));
}
