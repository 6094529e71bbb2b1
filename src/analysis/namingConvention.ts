/**
 * Checkpoint naming conventions such as `{model}-e{epoch:03d}-{val_loss:.3f}`: a pattern of
 * literal text and `{field[:spec]}` placeholders (Python format-spec subset: `d`, `0Nd`, `Nd`,
 * `.Nf`, `f`, `s`). Names are parsed back into fields (epoch and step order a history), checked
 * against the pattern, and ambiguous patterns or names are reported.
 */

/** A placeholder of a pattern. */
export interface NamingField {
  /** Field name, e.g. 'epoch'. */
  name: string;
  /** Value kind: integer, decimal or text. */
  kind: 'int' | 'float' | 'text';
  /** Format spec as written ('' when none). */
  spec: string;
}

/** A compiled naming convention. */
export interface NamingConvention {
  /** The pattern as written. */
  pattern: string;
  /** The fields in order. */
  fields: NamingField[];
  /** Anchored regular expression matching a whole name (lazy text fields). */
  regex: RegExp;
  /** The same with greedy text fields; a name both match differently is ambiguous. */
  greedyRegex: RegExp;
  /** Problems of the pattern itself (adjacent placeholders, unknown specs). */
  problems: string[];
}

/** Parsed fields of a name: numbers for int/float fields, strings for text. */
export type NamingValues = Record<string, number | string>;

/** A finding of checkNames. */
export interface NamingWarning {
  /** The name concerned ('' for a pattern problem). */
  name: string;
  /** `mismatch`: does not follow the pattern; `ambiguous`: parses two ways; `duplicate`: same epoch/step as another; `pattern`: pattern problem. */
  kind: 'mismatch' | 'ambiguous' | 'duplicate' | 'pattern';
  /** One-sentence explanation quoting the name. */
  message: string;
}

/** Largest pattern length accepted. */
const maxPatternLength = 500;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compiles a pattern. Throws a RangeError quoting the pattern when it cannot be parsed. */
export function compileNamingConvention(pattern: string): NamingConvention {
  if (pattern.length === 0 || pattern.length > maxPatternLength) {
    throw new RangeError(`Naming pattern '${pattern.slice(0, 60)}' must have 1 to ${maxPatternLength} characters.`);
  }
  const fields: NamingField[] = [];
  const problems: string[] = [];
  let lazy = '^';
  let greedy = '^';
  let lastWasField = false;
  const re = /\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}|\{\{|\}\}|[{}]|[^{}]+/g;
  for (const m of pattern.matchAll(re)) {
    const tok = m[0];
    if (m[1] !== undefined) {
      const name = m[1];
      const spec = m[2] ?? '';
      if (fields.some((f) => f.name === name)) {
        throw new RangeError(`Naming pattern '${pattern}' uses the field '{${name}}' twice.`);
      }
      let kind: NamingField['kind'];
      let body: string;
      let sm: RegExpExecArray | null;
      if ((sm = /^0?(\d*)d$/.exec(spec))) {
        kind = 'int';
        const width = sm[1] ? Number(sm[1]) : 1;
        body = `\\d{${Math.max(1, width)},}`;
      } else if ((sm = /^\.(\d+)f$/.exec(spec))) {
        kind = 'float';
        body = `-?\\d+\\.\\d{${sm[1]}}(?:e[-+]?\\d+)?`;
      } else if (spec === 'f' || spec === 'g') {
        kind = 'float';
        body = '-?\\d+(?:\\.\\d+)?(?:e[-+]?\\d+)?';
      } else if (spec === '' || spec === 's') {
        kind = 'text';
        body = '';
      } else {
        throw new RangeError(`Naming pattern '${pattern}': the format spec '${spec}' of '{${name}}' is not supported (use d, 03d, .3f, f or s).`);
      }
      if (lastWasField) {
        problems.push(`The placeholders before '{${name}}' have no separator between them, so names can split in several ways.`);
      }
      fields.push({ name, kind, spec });
      const group = `(?<${name}>`;
      lazy += kind === 'text' ? `${group}.+?)` : `${group}${body})`;
      greedy += kind === 'text' ? `${group}.+)` : `${group}${body})`;
      lastWasField = true;
    } else {
      const lit = tok === '{{' ? '{' : tok === '}}' ? '}' : tok;
      if (lit === '{' || lit === '}') {
        if (tok.length === 1) {
          throw new RangeError(`Naming pattern '${pattern}' has an unmatched '${tok}'.`);
        }
      }
      lazy += escapeRegex(lit);
      greedy += escapeRegex(lit);
      lastWasField = false;
    }
  }
  return { pattern, fields, regex: new RegExp(`${lazy}$`), greedyRegex: new RegExp(`${greedy}$`), problems };
}

/** Drops a weight-file extension (and `.weights` of `.weights.h5`) from a checkpoint name. */
export function checkpointStem(name: string): string {
  return name.replace(/(\.weights)?\.(h5|hdf5|keras|safetensors|npz|npy|tflite|index|json)$/i, '').replace(/\.ckpt$/i, '');
}

function valuesOf(c: NamingConvention, m: RegExpExecArray): NamingValues {
  const out: NamingValues = {};
  for (const f of c.fields) {
    const v = m.groups?.[f.name] ?? '';
    out[f.name] = f.kind === 'text' ? v : Number(v);
  }
  return out;
}

/** Parses a checkpoint name (extension dropped) into its fields; undefined when it does not match. */
export function parseCheckpointName(c: NamingConvention, name: string): NamingValues | undefined {
  const m = c.regex.exec(checkpointStem(name));
  return m ? valuesOf(c, m) : undefined;
}

/** Checks names against a convention: mismatches, names that parse two ways, duplicate epoch/step values. */
export function checkNames(c: NamingConvention, names: readonly string[]): NamingWarning[] {
  const out: NamingWarning[] = c.problems.map((message) => ({ name: '', kind: 'pattern' as const, message: `Pattern '${c.pattern}': ${message}` }));
  const seen = new Map<string, string>();
  for (const name of names) {
    const stem = checkpointStem(name);
    const lazy = c.regex.exec(stem);
    if (!lazy) {
      out.push({ name, kind: 'mismatch', message: `'${name}' does not follow the naming convention '${c.pattern}'.` });
      continue;
    }
    const greedy = c.greedyRegex.exec(stem);
    const a = valuesOf(c, lazy);
    if (greedy) {
      const b = valuesOf(c, greedy);
      const differs = c.fields.find((f) => a[f.name] !== b[f.name]);
      if (differs) {
        out.push({
          name,
          kind: 'ambiguous',
          message: `'${name}' can be read two ways under '${c.pattern}': {${differs.name}} is '${a[differs.name]}' or '${b[differs.name]}'.`,
        });
      }
    }
    const key = ['epoch', 'step'].filter((k) => k in a).map((k) => `${k}=${a[k]}`).join(',');
    if (key) {
      const other = seen.get(key);
      if (other !== undefined) {
        out.push({ name, kind: 'duplicate', message: `'${name}' has the same ${key} as '${other}', so their order is ambiguous.` });
      } else {
        seen.set(key, name);
      }
    }
  }
  return out;
}

/** Formats a name from field values (the inverse of parsing), e.g. for suggesting a name. */
export function formatCheckpointName(c: NamingConvention, values: NamingValues): string {
  let out = c.pattern;
  for (const f of c.fields) {
    const v = values[f.name];
    let text: string;
    if (v === undefined) {
      text = `{${f.name}}`;
    } else if (f.kind === 'int') {
      const width = Number(/^0?(\d*)d$/.exec(f.spec)?.[1] || 0);
      text = String(Math.trunc(Number(v))).padStart(width, f.spec.startsWith('0') ? '0' : ' ');
    } else if (f.kind === 'float') {
      const digits = /^\.(\d+)f$/.exec(f.spec)?.[1];
      text = digits !== undefined ? Number(v).toFixed(Number(digits)) : String(v);
    } else {
      text = String(v);
    }
    out = out.replace(new RegExp(`\\{${f.name}(?::[^{}]*)?\\}`), () => text);
  }
  return out.replace(/\{\{/g, '{').replace(/\}\}/g, '}');
}
