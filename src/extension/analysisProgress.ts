/**
 * Shows running analyses: a status bar item while any document is being analysed, and a
 * cancellable progress notification per document once it runs longer than a moment.
 */
import * as vscode from 'vscode';
import { Disposable } from './dispose';
import type { WeightsDocument, WeightsDocumentStore } from './weightsDocument';

/** Analyses shorter than this show no notification, in milliseconds. */
const notificationDelayMs = 600;

/** The status bar item and progress notifications of all documents. */
export class AnalysisProgress extends Disposable {
  private readonly item = this.register(vscode.window.createStatusBarItem('weightscope.analysis', vscode.StatusBarAlignment.Left, 10));
  private readonly running = new Set<WeightsDocument>();
  private readonly notified = new Set<WeightsDocument>();
  /** The pending notification delay of each running document. */
  private readonly timers = new Map<WeightsDocument, ReturnType<typeof setTimeout>>();

  constructor(store: WeightsDocumentStore) {
    super();
    this.item.name = 'Weightscope analysis';
    this.item.command = 'weightscope.showOutput';
    this.register(store.onDidCreateDocument((doc) => this.track(doc)));
    for (const doc of store.all()) {
      this.track(doc);
    }
    this.register({
      dispose: () => {
        for (const t of this.timers.values()) {
          clearTimeout(t);
        }
        this.timers.clear();
      },
    });
  }

  private clearTimer(doc: WeightsDocument): void {
    clearTimeout(this.timers.get(doc));
    this.timers.delete(doc);
  }

  private track(doc: WeightsDocument): void {
    const sub = doc.onDidChangeAnalysis((a) => {
      if (a.state === 'running') {
        if (!this.running.has(doc)) {
          this.running.add(doc);
          this.timers.set(
            doc,
            setTimeout(() => {
              this.timers.delete(doc);
              this.notify(doc);
            }, notificationDelayMs),
          );
        }
      } else {
        this.running.delete(doc);
        this.clearTimer(doc);
      }
      this.update();
    });
    const disposed = doc.onDidDispose(() => {
      sub.dispose();
      disposed.dispose();
      this.running.delete(doc);
      this.clearTimer(doc);
      this.update();
    });
  }

  private update(): void {
    if (this.running.size === 0) {
      this.item.hide();
      return;
    }
    let done = 0;
    let total = 0;
    for (const d of this.running) {
      done += d.analysis.done;
      total += d.analysis.total;
    }
    const first = [...this.running][0]!;
    this.item.text = `$(loading~spin) Weightscope ${done}/${total}`;
    this.item.tooltip = `Analysing ${this.running.size === 1 ? first.fileName : `${this.running.size} files`}: ${done} of ${total} tensors`;
    this.item.show();
  }

  private notify(doc: WeightsDocument): void {
    if (!this.running.has(doc) || this.notified.has(doc) || this.isDisposed) {
      return;
    }
    this.notified.add(doc);
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Weightscope: analysing ${doc.fileName}`, cancellable: true },
      (progress, token) =>
        new Promise<void>((resolve) => {
          let reported = 0;
          // Called when the analysis stops or the document goes: every listener of this notification is removed.
          const finish = (): void => {
            sub.dispose();
            cancel.dispose();
            disposed.dispose();
            this.notified.delete(doc);
            resolve();
          };
          const report = (): void => {
            const a = doc.analysis;
            if (a.state !== 'running') {
              finish();
              return;
            }
            const pct = a.total > 0 ? (100 * a.done) / a.total : 0;
            progress.report({ message: `${a.done} of ${a.total} tensors`, increment: pct - reported });
            reported = pct;
          };
          const sub = doc.onDidChangeAnalysis(report);
          const cancel = token.onCancellationRequested(() => doc.cancelAnalysis());
          const disposed = doc.onDidDispose(finish);
          report();
        }),
    );
  }
}
