/**
 * The diff panel's overlaid histograms: a request replaced by the next one (arrowing through the
 * rows) is aborted rather than read to the end, and the two compared files are opened once for the
 * result shown, not once per request; a new run opens them again.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, copyExample, tempDir, waitFor } from './helpers';

suite('diff panel histograms', () => {
  test('a histogram request replaced by the next is aborted; the compared files are opened once per result', async function () {
    this.timeout(120_000);
    const a = await api();
    const root = tempDir('weightscope-diff-histograms-');
    const fileA = copyExample('good-init-glorot-uniform', path.join(root, 'a'));
    const fileB = copyExample('bad-init-uniform-0.01', path.join(root, 'b'));
    const diff = a.diff.panels.open({ mode: 'diff', a: vscode.Uri.file(fileA), b: vscode.Uri.file(fileB), labelA: 'A', labelB: 'B' });
    try {
      const result = await waitFor('the comparison', () => diff.diffResult, 60_000);
      const pairs = result.tensors.filter((t) => t.a !== null && t.b !== null);
      assert.ok(pairs.length >= 3, `${pairs.length} pairs`);
      // Three rows in a row, as arrowing down asks: only the last is answered.
      const asked = pairs.slice(0, 3).map((t) => diff.requests.getHistograms({ a: t.a, b: t.b, bins: 16 }));
      const settled = await Promise.allSettled(asked);
      for (const s of settled.slice(0, 2)) {
        assert.equal(s.status, 'rejected');
        assert.equal((s as PromiseRejectedResult).reason?.reason, 'cancelled', String((s as PromiseRejectedResult).reason));
      }
      const last = settled[2]!;
      assert.equal(last.status, 'fulfilled', last.status === 'rejected' ? String(last.reason) : '');
      const hist = (last as PromiseFulfilledResult<{ countsA: number[]; countsB: number[] }>).value;
      const count = pairs[2]!.count;
      assert.equal(hist.countsA.reduce((x, y) => x + y, 0), count);
      assert.equal(hist.countsB.reduce((x, y) => x + y, 0), count);
      // Asked one after the other, the rows reuse the two opened files.
      for (const t of pairs) {
        await diff.requests.getHistograms({ a: t.a, b: t.b, bins: 16 });
      }
      assert.equal(diff.histogramOpens, 2, 'A and B opened once for all the requests');
      // A new run (files changed, swap, new pairing) opens them again.
      diff.start();
      await diff.whenDone;
      await diff.requests.getHistograms({ a: pairs[0]!.a, b: pairs[0]!.b, bins: 16 });
      assert.equal(diff.histogramOpens, 4);
    } finally {
      diff.panel.dispose();
    }
  });
});
