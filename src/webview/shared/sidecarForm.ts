/**
 * The form that edits a checkpoint's metadata sidecar (notes, tags, parent, metrics), shared by the
 * diff panel and the weights panel. Tags are typed comma separated and metrics one `name=value` a
 * line; the host checks the edit again before writing. Values are set as text, never as HTML.
 */
import type { SidecarDto, SidecarEditDto } from '../../protocol/sidecar';
import { clear, h } from './dom';

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

/** The editable part of a sidecar, as text that is equal when the form would show the same. */
function sidecarFormKey(s: Pick<SidecarDto, 'path' | 'notes' | 'tags' | 'parent' | 'metrics'>): string {
  return JSON.stringify([s.path, s.notes, s.tags, s.parent, s.metrics]);
}

/** A form in the page: the sidecar it was filled from, what its fields hold now, and its notice line. */
interface FormState {
  base: SidecarDto;
  current(): string | undefined;
  notice: HTMLElement;
}

const formStates = new WeakMap<HTMLElement, FormState>();

/** The form's fields and its Save button, filled from `s`. */
function sidecarForm(s: SidecarDto, options: SidecarFormOptions): HTMLElement {
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
  const notice = h('p', { className: 'sidecar-notice severity-warning', attrs: { id: id('notice'), role: 'status' } });
  notice.hidden = true;
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
  const form = h('div', { className: 'sidecar-form' }, [
    notice,
    h('label', { text: 'Notes' }, [notes]),
    h('label', { text: 'Tags' }, [tags]),
    h('label', { text: 'Parent' }, [parent]),
    h('label', { text: 'Metrics' }, [metrics]),
    save,
  ]);
  formStates.set(form, {
    base: s,
    notice,
    current: () => {
      try {
        return sidecarFormKey({ path: s.path, notes: notes.value, tags: parseTagsText(tags.value), parent: parent.value.trim(), metrics: parseMetricsText(metrics.value) });
      } catch {
        return undefined; // a metrics line being typed: not what any sidecar holds
      }
    },
  });
  return form;
}

/**
 * Shows the form of `s` in `host` without losing what the user typed: a form there that shows `s`
 * already, or whose fields hold what `s` holds (its own save coming back), stays; one the user has
 * typed into stays too, with a notice that the sidecar changed meanwhile (Save writes the typed
 * values over it; Discard shows the sidecar as it is now); otherwise (or for another file) the form
 * is made anew.
 */
export function showSidecarForm(host: HTMLElement, s: SidecarDto, options: SidecarFormOptions): void {
  const form = [...host.children].find((el): el is HTMLElement => formStates.has(el as HTMLElement));
  const state = form ? formStates.get(form) : undefined;
  if (form && state && state.base.path === s.path) {
    const key = sidecarFormKey(s);
    const typed = state.current();
    if (key === sidecarFormKey(state.base) || key === typed) {
      state.base = s;
      if (key === typed) {
        state.notice.hidden = true;
      }
      return;
    }
    if (typed !== sidecarFormKey(state.base)) {
      state.base = s;
      clear(state.notice);
      const discard = h('button', { text: 'Discard my edits', className: 'link', attrs: { type: 'button', id: `discard-${options.idSuffix}` } });
      discard.addEventListener('click', () => {
        clear(host);
        host.append(sidecarForm(formStates.get(form)?.base ?? s, options));
      });
      state.notice.append(`The metadata in ${s.path} changed since you started editing; Save writes your edits over it. `, discard);
      state.notice.hidden = false;
      return;
    }
  }
  clear(host);
  host.append(sidecarForm(s, options));
}
