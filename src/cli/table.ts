/**
 * Plain-text tables and number formatting for terminal output.
 */

/**
 * Formats a number compactly for tables ('-' for null): `digits` significant digits, whole numbers
 * below 1e5 exactly, and exponent notation where the rounded digits would otherwise end in zeros
 * that look exact (32768.5 is 3.277e+4, never 32770).
 */
export function formatNumber(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) {
    return '-';
  }
  if (v === 0) {
    return '0';
  }
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e5) {
    return String(v);
  }
  if (a >= 1e5 || a < 1e-3 || a >= 10 ** digits) {
    return v.toExponential(digits - 1);
  }
  return Number(v.toPrecision(digits)).toString();
}

/** Formats a byte count with binary units. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Formats an integer with thousands separators (as toLocaleString('en-US') does). */
export function formatCount(n: number): string {
  if (!Number.isSafeInteger(n) || Object.is(n, -0)) {
    return n.toLocaleString('en-US');
  }
  const digits = String(Math.abs(n));
  let out = digits.slice(0, digits.length % 3 || 3);
  for (let i = out.length; i < digits.length; i += 3) {
    out += `,${digits.slice(i, i + 3)}`;
  }
  return n < 0 ? `-${out}` : out;
}

/** Longest tensor name a table shows whole (shortName). */
export const tableNameMax = 64;

/** The note under a table in which shortName shortened a name. */
export const shortenedNote = `names longer than ${tableNameMax} characters are shortened in the middle (…); --json gives them whole`;

/**
 * A name as a table shows it: whole up to `max` characters, else shortened in the middle with '…'. A
 * name of several ';'-joined names (TFLite's fused constants) keeps its first and last name when they fit.
 */
export function shortName(name: string, max = tableNameMax): string {
  if (name.length <= max) {
    return name;
  }
  const parts = name.split(';');
  if (parts.length > 2) {
    const ends = `${parts[0]};…;${parts[parts.length - 1]}`;
    if (ends.length <= max) {
      return ends;
    }
  }
  const head = Math.ceil((max - 1) / 2);
  return `${name.slice(0, head)}…${name.slice(name.length - (max - 1 - head))}`;
}

/** Renders rows as an aligned table; columns whose header starts with '>' are right-aligned. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const right = headers.map((h) => h.startsWith('>'));
  const names = headers.map((h) => (h.startsWith('>') ? h.slice(1) : h));
  const widths = names.map((h) => h.length);
  for (const r of rows) {
    for (let i = 0; i < widths.length; i++) {
      const w = (r[i] ?? '').length;
      if (w > widths[i]!) {
        widths[i] = w;
      }
    }
  }
  const line = (cells: readonly string[]): string => {
    let text = '';
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i]!;
      const w = widths[i] ?? 0;
      text += i === 0 ? '' : '  ';
      text += right[i] ? c.padStart(w) : c.padEnd(w);
    }
    return text.trimEnd();
  };
  const lines = [line(names), line(widths.map((w) => '-'.repeat(w)))];
  for (const r of rows) {
    lines.push(line(r));
  }
  return lines.join('\n');
}
