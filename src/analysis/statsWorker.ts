/**
 * Worker-thread entry of StatsPool: computes one tensor's statistics per request (or those of a
 * batch of small tensors), one request at a time in arrival order (the pool may send the next
 * request before the current one ends), and answers each with its TensorResult(s). Files are
 * opened through statsRunner.ts, which keeps them in a small per-thread cache; requests that carry
 * a raw location open nothing.
 */
import { parentPort } from 'node:worker_threads';
import { WeightFileError, summarizeError } from '../core/errors';
import type { StatsPoolRequest, StatsPoolResponse } from './statsPool';
import { analyzeRawTensor, analyzeTensor, analyzeTensorBatch, postedResult, prepareFile } from './statsRunner';

type AnalyzeRequest = Extract<StatsPoolRequest, { type: 'analyze' }>;

const waiting: AnalyzeRequest[] = [];
let running: { id: number; controller: AbortController } | undefined;

function post(message: StatsPoolResponse): void {
  parentPort?.postMessage(message);
}

function next(): void {
  if (running) {
    return;
  }
  const message = waiting.shift();
  if (!message) {
    return;
  }
  const controller = new AbortController();
  running = { id: message.id, controller };
  if (message.batch) {
    void analyzeTensorBatch(message.filePath, message.batch, message.histogramBins, controller.signal).then((results) => {
      running = undefined;
      post({ type: 'results', id: message.id, results: results.map(postedResult) });
      next();
    });
    return;
  }
  const analysis = message.raw
    ? analyzeRawTensor(message.raw, message.tensorName, message.histogramBins, controller.signal)
    : analyzeTensor(message.filePath, message.tensorName, message.histogramBins, controller.signal);
  void analysis.then((result) => {
    running = undefined;
    post({ type: 'result', id: message.id, result: postedResult(result) });
    next();
  });
}

parentPort?.on('message', (message: StatsPoolRequest) => {
  if (message.type === 'cancel') {
    if (running?.id === message.id) {
      running.controller.abort();
      return;
    }
    const queued = waiting.findIndex((m) => m.id === message.id);
    if (queued >= 0) {
      waiting.splice(queued, 1);
      post({ type: 'result', id: message.id, result: { ok: false, error: summarizeError(new WeightFileError('cancelled', 'The operation was cancelled.')) } });
    }
    return;
  }
  if (message.type === 'prepare') {
    void prepareFile(message.filePath, message.open).then(() => post({ type: 'prepared', filePath: message.filePath }));
    return;
  }
  waiting.push(message);
  next();
});
