/**
 * The form that edits a checkpoint's metadata sidecar (notes, tags, parent, metrics), shared by the
 * diff panel and the weights panel. Tags are typed comma separated and metrics one `name=value` a
 * line; the host checks the edit again before writing. Values are set as text, never as HTML.
 */
import type { SidecarDto, SidecarEditDto } from '../../protocol/sidecar';
import { h } from './dom';

/** Tags typed comma separated: trimmed, empty ones dropped. */
export function parseTagsText(text: string): string[] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

/** Metrics typed one `name=value` a line (blank lines skipped); throws an Error quoting the first bad line. */
export function parseMetricsText(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) {
      continue;
    }
    const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (!m || !Number.isFinite(Number(m[2]))) {
      throw new Error(`Metric line '${line.trim()}' is not name=number.`);
    }
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Metrics as the form shows them: one `name=value` a line. */
export function metricsText(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

/** What the form needs from its panel. */
export interface SidecarFormOptions {
  /** Suffix of the element ids: 'a' gives notes-a, tags-a, parent-a, metrics-a, save-a. */
  idSuffix: string;
  /** Called with the edit when Save is clicked and the fields parse. */
  onSave(edit: SidecarEditDto): void;
  /** Called with a one-sentence message when a field does not parse. */
  onInvalid(message: string): void;
}

/** The form's fields and its Save button, filled from `s`. */
export function sidecarForm(s: SidecarDto, options: SidecarFormOptions): HTMLElement {
  const id = (field: string): string => `${field}-${options.idSuffix}`;
  const notes = h('textarea', { attrs: { rows: '3', id: id('notes'), 'aria-label': 'Notes' } });
  notes.value = s.notes;
  const tags = h('input', { attrs: { type: 'text', id: id('tags'), 'aria-label': 'Tags (comma separated)', placeholder: 'baseline, lr-0.01' } });
  tags.value = s.tags.join(', ');
  const parent = h('input', { attrs: { type: 'text', id: id('parent'), 'aria-label': 'Parent checkpoint', placeholder: '../epoch-002/model.json' } });
  parent.value = s.parent;
  const metrics = h('textarea', { attrs: { rows: '2', id: id('metrics'), 'aria-label': 'Metrics (name=value per line)', placeholder: 'val_loss=0.31' } });
  metrics.value = metricsText(s.metrics);
  const save = h('button', { text: 'Save metadata', attrs: { type: 'button', id: id('save') } });
  save.addEventListener('click', () => {
    let m: Record<string, number>;
    try {
      m = parseMetricsText(metrics.value);
    } catch (ex) {
      options.onInvalid(ex instanceof Error ? ex.message : String(ex));
      return;
    }
    options.onSave({ notes: notes.value, tags: parseTagsText(tags.value), parent: parent.value.trim(), metrics: m });
  });
  return h('div', { className: 'sidecar-form' }, [
    h('label', { text: 'Notes' }, [notes]),
    h('label', { text: 'Tags' }, [tags]),
    h('label', { text: 'Parent' }, [parent]),
    h('label', { text: 'Metrics' }, [metrics]),
    save,
  ]);
}
