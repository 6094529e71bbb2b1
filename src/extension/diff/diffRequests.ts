/**
 * Checks of the parameters the diff webview sends (untrusted input): which side a request is
 * about, and a pairing override. No `vscode` import: unit-tested in plain Node.
 */

/** Longest tensor name accepted in a pairing override, in characters. */
export const maxTensorNameChars = 4096;

/** A value from a webview, quoted short for a message. */
function quote(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 59)}…` : s;
}

/** The side `value` names ('a' or 'b'); anything else is refused (never taken as B). */
export function diffSideOf(value: unknown): 'a' | 'b' {
  if (value === 'a' || value === 'b') {
    return value;
  }
  throw new RangeError(`The side of a compared file must be 'a' or 'b', not ${quote(value)}.`);
}

/** A pairing override: A's tensor `a` (a name) paired with B's `b` (a name, or null for unpaired). */
export function tensorPairingOf(a: unknown, b: unknown): [string, string | null] {
  const name = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || v === '' || v.length > maxTensorNameChars) {
      throw new RangeError(`${what} must be a tensor name, not ${quote(v)}.`);
    }
    return v;
  };
  return [name(a, "A's tensor of a pairing"), b === null ? null : name(b, "B's tensor of a pairing (or null for none)")];
}
