/**
 * Worker-thread entry of fingerprintClient.ts: opens one local weight file itself (headers only),
 * fingerprints its tensors chunk by chunk, posts each tensor's fingerprint and the file's result,
 * and stops between chunks when cancelled.
 */
import { parentPort } from 'node:worker_threads';
import { summarizeError } from '../core/errors';
import type { WeightFile } from '../core/model';
import { openLocalPath } from '../formats/registry';
import { fingerprintFile } from './fingerprint';
import type { FingerprintWorkerReply, FingerprintWorkerRequest } from './fingerprintClient';

/** Running requests by id, for cancellation. */
const running = new Map<number, AbortController>();

function post(reply: FingerprintWorkerReply): void {
  parentPort?.postMessage(reply);
}

async function run(request: Extract<FingerprintWorkerRequest, { type: 'run' }>): Promise<void> {
  const controller = new AbortController();
  running.set(request.id, controller);
  let file: WeightFile | undefined;
  try {
    file = await openLocalPath(request.filePath, { signal: controller.signal });
    const total = file.tensors.length;
    let done = 0;
    const result = await fingerprintFile(file, {
      signal: controller.signal,
      known: request.known,
      onTensor: (tensor) => post({ type: 'tensor', id: request.id, tensor, done: ++done, total }),
    });
    post({ type: 'result', id: request.id, result });
  } catch (ex) {
    post({ type: 'error', id: request.id, error: summarizeError(ex) });
  } finally {
    running.delete(request.id);
    await file?.close().catch(() => undefined); // the result is already sent; a failing close changes nothing for it
  }
}

parentPort?.on('message', (message: FingerprintWorkerRequest) => {
  if (message.type === 'cancel') {
    running.get(message.id)?.abort();
    return;
  }
  void run(message);
});
