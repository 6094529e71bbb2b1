/**
 * The Metadata tab of the weights panel: the file's name checked against the naming convention
 * (a warning line with the reason, or the fields parsed from it), and its metadata sidecar (path,
 * creation time, git commit, recorded fingerprint, and the shared form editing notes, tags, parent
 * and metrics), with "Create metadata" when there is none yet. Every value is inserted as text.
 */
import type { SidecarDto, SidecarEditDto } from '../../protocol/sidecar';
import type { MetadataDto, NamingCheckDto } from '../../protocol/weightsPanel';
import { clear, h } from '../shared/dom';
import { showSidecarForm } from '../shared/sidecarForm';

/** What the tab asks its panel to do. */
export interface MetadataActions {
  /** Saves an edit; resolves with the saved sidecar, rejects with the host's message. */
  save(edit: SidecarEditDto): Promise<SidecarDto>;
  /** Creates the sidecar; resolves with it. */
  create(): Promise<SidecarDto>;
  /** The message of a failed request. */
  describe(ex: unknown): string;
}

/** The naming check as a line: a warning with the reason, or the parsed fields. */
export function namingLine(n: NamingCheckDto): HTMLElement {
  const el = h('div', { className: `naming naming-${n.state}`, attrs: { id: 'naming-check', 'data-state': n.state } });
  const fields = (n.fields ?? []).map((f) => h('span', { className: 'naming-field' }, [h('span', { className: 'label', text: `${f.name} ` }), h('code', { text: String(f.value) })]));
  switch (n.state) {
    case 'off':
      el.append(h('span', { className: 'muted', text: 'No naming convention is set (setting weightscope.namingConvention, e.g. {model}-e{epoch:03d}-{val_loss:.3f}).' }));
      break;
    case 'invalidPattern':
      el.append(h('span', { className: 'severity-warning', text: `⚠ The naming convention cannot be used: ${n.message ?? ''}` }));
      break;
    case 'mismatch':
      el.append(h('span', { className: 'severity-warning', text: `⚠ ${n.message ?? `'${n.name}' does not follow '${n.pattern}'.`}` }));
      break;
    case 'ambiguous':
      el.append(h('span', { className: 'severity-warning', text: `⚠ ${n.message ?? ''}` }), h('div', { className: 'naming-fields' }, ['First reading: ', ...fields]));
      break;
    case 'match':
      el.append(h('span', { text: `✓ '${n.name}' follows '${n.pattern}'.` }), h('div', { className: 'naming-fields' }, fields));
      break;
  }
  for (const p of n.problems) {
    el.append(h('div', { className: 'severity-warning', text: `⚠ ${p}` }));
  }
  return el;
}

/** The tab's content, re-rendered from each MetadataDto. */
export class MetadataView {
  /** The tab's root element. */
  readonly element = h('div', { className: 'metadata', attrs: { id: 'metadata' } });
  private readonly namingEl = h('section', { className: 'metadata-naming' });
  private readonly sidecarEl = h('section', { className: 'metadata-sidecar' });
  private readonly factsEl = h('dl', { className: 'facts sidecar-facts' });
  private readonly formEl = h('div', { className: 'sidecar-form-host' });
  private readonly statusEl = h('p', { className: 'metadata-status', attrs: { id: 'metadata-status', role: 'status' } });
  private metadata: MetadataDto | undefined;
  private modelFingerprint: string | undefined;

  constructor(private readonly actions: MetadataActions) {
    this.element.append(h('h2', { text: 'Naming' }), this.namingEl, h('h2', { text: 'Metadata sidecar' }), this.sidecarEl);
  }

  /** Shows new metadata. */
  render(m: MetadataDto): void {
    this.metadata = m;
    clear(this.namingEl);
    this.namingEl.append(namingLine(m.naming));
    if (!m.available || m.error || !m.sidecar) {
      clear(this.sidecarEl);
      this.sidecarEl.dataset.state = !m.available ? 'unavailable' : 'error';
      this.sidecarEl.append(
        !m.available
          ? h('p', { className: 'muted', attrs: { id: 'metadata-unavailable' }, text: m.unavailableReason ?? 'Metadata is not available for this file.' })
          : h('p', { className: 'severity-error', attrs: { id: 'metadata-error' }, text: `The sidecar ${m.sidecarPath ?? ''} cannot be read: ${m.error?.message ?? 'unknown error'}` }),
      );
      return;
    }
    const s = m.sidecar;
    this.sidecarEl.dataset.state = s.exists ? 'exists' : 'none';
    if (!this.sidecarEl.contains(this.factsEl)) {
      clear(this.sidecarEl);
      this.sidecarEl.append(this.factsEl, this.formEl, this.statusEl);
    }
    this.renderFacts();
    showSidecarForm(this.formEl, s, {
      idSuffix: 'sidecar',
      onInvalid: (message) => this.status(message, true),
      onSave: (edit) => {
        this.status('Saving…', false);
        this.actions.save(edit).then(
          (saved) => this.status(`Metadata saved to ${saved.path}.`, false),
          (ex: unknown) => this.status(this.actions.describe(ex), true),
        );
      },
    });
  }

  /** The current model fingerprint of the file (compared with the recorded one). */
  setModelFingerprint(fp: string | undefined): void {
    this.modelFingerprint = fp;
    if (this.metadata?.sidecar) {
      this.renderFacts();
    }
  }

  private renderFacts(): void {
    const m = this.metadata;
    const s = m?.sidecar;
    clear(this.factsEl);
    if (!m || !s) {
      return;
    }
    const add = (label: string, value: string, id: string, title?: string): void => {
      this.factsEl.append(h('div', { className: 'fact' }, [h('dt', { text: label }), h('dd', { text: value, title, attrs: { id } })]));
    };
    add('Sidecar', s.exists ? s.path : `none yet (${s.path})`, 'sidecar-path', 'The checkpoint itself is never modified.');
    if (!s.exists) {
      const create = h('button', { text: 'Create metadata', attrs: { type: 'button', id: 'create-metadata' } });
      const what = m.fingerprintToRecord ? 'the creation time, the workspace git commit and the model fingerprint' : 'the creation time and the workspace git commit';
      create.title = `Writes ${s.path} with ${what}.`;
      create.addEventListener('click', () => {
        create.disabled = true;
        this.actions.create().then(
          (c) => this.status(`Created ${c.path}.`, false),
          (ex: unknown) => {
            create.disabled = false;
            this.status(this.actions.describe(ex), true);
          },
        );
      });
      this.factsEl.append(h('div', { className: 'fact' }, [h('dt', { text: '' }), h('dd', {}, [create])]));
      return;
    }
    add('Created', s.created ?? 'not recorded', 'sidecar-created');
    add('Git commit', s.gitCommit ? s.gitCommit.slice(0, 12) : s.gitCommit === null ? 'not in a git work tree' : 'not recorded', 'sidecar-commit', s.gitCommit ?? undefined);
    if (s.modelFingerprint !== undefined) {
      const current = this.modelFingerprint;
      const verdict = current === undefined ? '' : current === s.modelFingerprint ? ' (matches the file)' : ' (differs from the file: the weights changed since)';
      add('Fingerprint', `${s.modelFingerprint.slice(0, 12)}${verdict}`, 'sidecar-fingerprint', s.modelFingerprint);
    }
    if (s.epoch !== undefined) {
      add('Epoch', String(s.epoch), 'sidecar-epoch');
    }
    if (s.step !== undefined) {
      add('Step', String(s.step), 'sidecar-step');
    }
  }

  private status(text: string, error: boolean): void {
    this.statusEl.textContent = text;
    this.statusEl.classList.toggle('severity-error', error);
  }
}
