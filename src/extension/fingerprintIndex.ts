/**
 * The model fingerprints known for workspace files, wherever they came from: an opened document,
 * the statistics cache, a checkpoint's sidecar, or "Find Duplicate Weights". The Weights tree shows
 * them and groups equal ones; the command fills in the rest.
 */
import * as vscode from 'vscode';
import { checkpointStamp } from '../analysis/checkpointFiles';
import { groupByModelFingerprint, type FingerprintGroup } from '../analysis/fingerprint';
import { StatsCache } from '../analysis/statsCache';
import { readSidecar } from '../core/sidecar';
import { resolveLocalEntry } from '../formats/registry';
import { Disposable } from './dispose';
import { inspectTarget } from './fileAccess';

/** A known model fingerprint of one file. */
export interface KnownModelFingerprint {
  /** Model fingerprint (SHA-256 hex). */
  model: string;
  /** Tensors it covers. */
  modelTensorCount: number;
  /** True when some model tensor could not be read. */
  partial: boolean;
  /** Where it came from. */
  source: 'document' | 'cache' | 'sidecar' | 'computed';
}

/** Model fingerprints by file, with change events. */
export class FingerprintIndex extends Disposable {
  private readonly byKey = new Map<string, { uri: vscode.Uri; fp: KnownModelFingerprint }>();
  private readonly onDidChangeEmitter = this.register(new vscode.EventEmitter<void>());
  /** Fires when a fingerprint was added, changed or removed. */
  readonly onDidChange = this.onDidChangeEmitter.event;

  /** The key of a file (data shards share their index's). */
  static key(uri: vscode.Uri): string {
    return inspectTarget(uri).toString();
  }

  /** The known fingerprint of `uri`, if any. */
  get(uri: vscode.Uri): KnownModelFingerprint | undefined {
    return this.byKey.get(FingerprintIndex.key(uri))?.fp;
  }

  /** Records the fingerprint of `uri`. */
  set(uri: vscode.Uri, fp: KnownModelFingerprint): void {
    const key = FingerprintIndex.key(uri);
    const old = this.byKey.get(key)?.fp;
    this.byKey.set(key, { uri, fp });
    if (!old || old.model !== fp.model || old.partial !== fp.partial) {
      this.onDidChangeEmitter.fire();
    }
  }

  /** Forgets the fingerprint of `uri` (the file changed or is gone). */
  delete(uri: vscode.Uri): void {
    if (this.byKey.delete(FingerprintIndex.key(uri))) {
      this.onDidChangeEmitter.fire();
    }
  }

  /** Groups of files with equal (complete) model fingerprints, among `among` when given. */
  groups(among?: readonly vscode.Uri[]): FingerprintGroup<vscode.Uri>[] {
    const keys = among ? new Set(among.map((u) => FingerprintIndex.key(u))) : undefined;
    const items = [...this.byKey].filter(([k]) => !keys || keys.has(k)).map(([, e]) => ({ key: e.uri, ...e.fp }));
    return groupByModelFingerprint(items, (u) => FingerprintIndex.key(u));
  }

  /** The other files with the same model fingerprint as `uri` (among `among` when given). */
  sameAs(uri: vscode.Uri, among?: readonly vscode.Uri[]): vscode.Uri[] {
    const key = FingerprintIndex.key(uri);
    const g = this.groups(among).find((x) => x.keys.some((u) => FingerprintIndex.key(u) === key));
    return g ? g.keys.filter((u) => FingerprintIndex.key(u) !== key) : [];
  }

  /**
   * Looks up the fingerprint of a local file without reading its tensors: the statistics cache
   * (when the file is unchanged since), then a valid sidecar. Returns it (and records it) or undefined.
   * With `revalidate`, only a fingerprint of an open document (kept current by its reloads) is taken
   * from the index as is; others are checked against the file as it is now.
   */
  async lookup(uri: vscode.Uri, cache: StatsCache | undefined, options: { revalidate?: boolean } = {}): Promise<KnownModelFingerprint | undefined> {
    const known = this.get(uri);
    if (uri.scheme !== 'file' || (known && (!options.revalidate || known.source === 'document'))) {
      return known;
    }
    const target = inspectTarget(uri).fsPath;
    try {
      const key = cache ? await StatsCache.keyFor(target, 0) : undefined;
      const cached = key ? await cache!.getModelFingerprint(key) : undefined;
      if (cached) {
        const fp: KnownModelFingerprint = { ...cached, source: 'cache' };
        this.set(uri, fp);
        return fp;
      }
      const entry = await resolveLocalEntry(target);
      const [side, stamp] = await Promise.all([readSidecar(entry).catch(() => undefined), checkpointStamp(entry)]);
      const s = side?.fingerprints;
      if (s && s.size === stamp.size && s.mtimeMs === stamp.mtimeMs && typeof s.model === 'string') {
        const count = Object.keys(s.tensors ?? {}).length;
        const fp: KnownModelFingerprint = { model: s.model, modelTensorCount: count, partial: false, source: 'sidecar' };
        this.set(uri, fp);
        return fp;
      }
    } catch {
      // an unreadable file or sidecar only means the fingerprint is not known yet
    }
    if (known) {
      this.delete(uri); // no longer valid for the file as it is now
    }
    return undefined;
  }
}
