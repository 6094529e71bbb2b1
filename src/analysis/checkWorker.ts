/**
 * Worker-thread entry of checkClient.ts: opens one local weight file itself (headers only), runs
 * checkWeightFile on it with the statistics the host already computed, posts progress and the
 * JSON-safe report, and stops between tensors when cancelled.
 */
import { parentPort } from 'node:worker_threads';
import { summarizeError } from '../core/errors';
import type { WeightFile } from '../core/model';
import { openLocalPath } from '../formats/registry';
import type { CheckWorkerReply, CheckWorkerRequest } from './checkClient';
import { checkWeightFile } from './diagnostics/check';

/** Smallest gap between two progress messages, in milliseconds. */
const progressIntervalMs = 100;

/** Running checks by id, for cancellation. */
const running = new Map<number, AbortController>();

function post(reply: CheckWorkerReply): void {
  parentPort?.postMessage(reply);
}

async function run(request: Extract<CheckWorkerRequest, { type: 'run' }>): Promise<void> {
  const controller = new AbortController();
  running.set(request.id, controller);
  let file: WeightFile | undefined;
  try {
    file = await openLocalPath(request.filePath, { signal: controller.signal });
    let lastPost = 0;
    const report = await checkWeightFile(file, request.stats, {
      precision: request.precision,
      sampleValues: request.sampleValues,
      signal: controller.signal,
      onProgress: (done, total) => {
        const now = Date.now();
        if (done === total || now - lastPost >= progressIntervalMs) {
          lastPost = now;
          post({ type: 'progress', id: request.id, done, total });
        }
      },
    });
    post({ type: 'report', id: request.id, report });
  } catch (ex) {
    post({ type: 'error', id: request.id, error: summarizeError(ex) });
  } finally {
    running.delete(request.id);
    await file?.close().catch(() => undefined); // the report is already sent; a failing close changes nothing for it
  }
}

parentPort?.on('message', (message: CheckWorkerRequest) => {
  if (message.type === 'cancel') {
    running.get(message.id)?.abort();
    return;
  }
  void run(message);
});
