/**
 * The analysis progress notifications: each long analysis of a document shows one, and removes
 * every listener it added to the document when it ends (a document analysed again and again, for
 * a file rewritten during training, must not collect them).
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { AnalysisProgress } from '../../src/extension/analysisProgress';
import type { WeightsDocument, WeightsDocumentStore } from '../../src/extension/weightsDocument';
import type { AnalysisStatusDto } from '../../src/protocol/weightsPanel';

/** The parts of a WeightsDocument that AnalysisProgress uses, counting the listeners of onDidDispose. */
class FakeDocument {
  readonly fileName = 'fake.h5';
  analysis: AnalysisStatusDto = { state: 'idle', done: 0, total: 0 };
  /** onDidDispose listeners added and not disposed. */
  disposeListeners = 0;
  private readonly changed = new vscode.EventEmitter<AnalysisStatusDto>();
  private readonly disposed = new vscode.EventEmitter<void>();
  readonly onDidChangeAnalysis = this.changed.event;

  readonly onDidDispose = (listener: () => void): vscode.Disposable => {
    this.disposeListeners++;
    const sub = this.disposed.event(listener);
    let live = true;
    return new vscode.Disposable(() => {
      if (live) {
        live = false;
        this.disposeListeners--;
      }
      sub.dispose();
    });
  };

  cancelAnalysis(): void {
    this.set('cancelled');
  }

  set(state: AnalysisStatusDto['state']): void {
    this.analysis = { state, done: state === 'done' ? 4 : 1, total: 4 };
    this.changed.fire(this.analysis);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

suite('analysis progress', () => {
  test('each long analysis shows a notification and removes its listeners when it ends', async function () {
    this.timeout(30_000);
    const doc = new FakeDocument();
    const store = { onDidCreateDocument: new vscode.EventEmitter<WeightsDocument>().event, all: () => [doc as unknown as WeightsDocument] } as unknown as WeightsDocumentStore;
    const window = vscode.window as { withProgress: unknown };
    const realWithProgress = window.withProgress;
    let notifications = 0;
    // Notifications are counted, not shown.
    window.withProgress = (_options: unknown, task: (p: vscode.Progress<unknown>, t: vscode.CancellationToken) => Thenable<unknown>) => {
      notifications++;
      return task({ report: () => undefined }, new vscode.CancellationTokenSource().token);
    };
    const progress = new AnalysisProgress(store);
    try {
      const tracking = doc.disposeListeners;
      for (let i = 1; i <= 3; i++) {
        doc.set('running');
        await sleep(900); // longer than the notification delay
        assert.equal(notifications, i, `analysis ${i} shows a notification`);
        doc.set('done');
        await sleep(50);
        assert.equal(doc.disposeListeners, tracking, `after analysis ${i}, only the document's own tracking listener is left`);
      }
    } finally {
      progress.dispose();
      window.withProgress = realWithProgress;
    }
  });
});
