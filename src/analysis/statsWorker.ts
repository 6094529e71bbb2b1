/**
 * Worker-thread entry of StatsPool: computes one tensor's statistics per request (statsRunner.ts,
 * which keeps opened files in a small per-thread cache) and answers with a TensorResult.
 */
import { parentPort } from 'node:worker_threads';
import type { StatsPoolRequest, StatsPoolResponse } from './statsPool';
import { analyzeTensor, prepareFile } from './statsRunner';

const running = new Map<number, AbortController>();

function post(message: StatsPoolResponse): void {
  parentPort?.postMessage(message);
}

parentPort?.on('message', (message: StatsPoolRequest) => {
  if (message.type === 'cancel') {
    running.get(message.id)?.abort();
    return;
  }
  if (message.type === 'prepare') {
    void prepareFile(message.filePath).then(() => post({ type: 'prepared', filePath: message.filePath }));
    return;
  }
  const controller = new AbortController();
  running.set(message.id, controller);
  void analyzeTensor(message.filePath, message.tensorName, message.histogramBins, controller.signal).then((result) => {
    running.delete(message.id);
    post({ type: 'result', id: message.id, result });
  });
});
