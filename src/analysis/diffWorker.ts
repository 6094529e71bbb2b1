/**
 * Worker-thread entry of the diff pool: opens both files itself (headers only, kept open while
 * jobs for them arrive) and compares the tensor pairs it is sent, one message per pair, or
 * fingerprints the single tensors it is sent (those no pair read).
 */
import { parentPort } from 'node:worker_threads';
import { summarizeError } from '../core/errors';
import type { WeightFile } from '../core/model';
import { openLocalPath } from '../formats/registry';
import { diffTensorPair } from './diff';
import { fingerprintTensor } from './fingerprint';
import type { DiffJobMessage, DiffWorkerReply } from './diffPool';

/** Opened files by path. */
const files = new Map<string, Promise<WeightFile>>();
/** Running jobs by id, for cancellation. */
const running = new Map<number, AbortController>();

function open(p: string): Promise<WeightFile> {
  let f = files.get(p);
  if (!f) {
    f = openLocalPath(p);
    files.set(p, f);
    f.catch(() => files.delete(p));
  }
  return f;
}

async function runJob(job: Extract<DiffJobMessage, { type: 'job' }>): Promise<DiffWorkerReply> {
  const controller = new AbortController();
  running.set(job.id, controller);
  try {
    const [fa, fb] = await Promise.all([open(job.pathA), open(job.pathB)]);
    const ta = fa.tensors.find((t) => t.name === job.a);
    const tb = fb.tensors.find((t) => t.name === job.b);
    if (!ta || !tb) {
      return { type: 'error', id: job.id, error: { reason: 'notFound', message: `Tensor '${ta ? job.b : job.a}' is no longer in its file; it may have changed on disk.` } };
    }
    const known = {
      a: job.knownA ? new Map([[job.a, job.knownA]]) : undefined,
      b: job.knownB ? new Map([[job.b, job.knownB]]) : undefined,
    };
    const diff = await diffTensorPair(ta, tb, job.matchedBy, { chunkElements: job.chunkElements, signal: controller.signal, known });
    return { type: 'result', id: job.id, diff };
  } catch (ex) {
    return { type: 'error', id: job.id, error: summarizeError(ex) };
  } finally {
    running.delete(job.id);
  }
}

async function runFingerprint(job: Extract<DiffJobMessage, { type: 'fingerprint' }>): Promise<DiffWorkerReply> {
  const controller = new AbortController();
  running.set(job.id, controller);
  try {
    const t = (await open(job.filePath)).tensors.find((x) => x.name === job.name);
    if (!t) {
      return { type: 'error', id: job.id, error: { reason: 'notFound', message: `Tensor '${job.name}' is no longer in its file; it may have changed on disk.` } };
    }
    return { type: 'fingerprint', id: job.id, fingerprint: await fingerprintTensor(t, { signal: controller.signal, chunkElements: job.chunkElements }) };
  } catch (ex) {
    return { type: 'error', id: job.id, error: summarizeError(ex) };
  } finally {
    running.delete(job.id);
  }
}

parentPort?.on('message', (msg: DiffJobMessage) => {
  switch (msg.type) {
    case 'job':
      void runJob(msg).then((reply) => parentPort?.postMessage(reply));
      break;
    case 'fingerprint':
      void runFingerprint(msg).then((reply) => parentPort?.postMessage(reply));
      break;
    case 'cancel':
      running.get(msg.id)?.abort();
      break;
    case 'close':
      void Promise.all([...files.values()].map((f) => f.then((x) => x.close()).catch(() => undefined))).then(() => {
        files.clear();
        parentPort?.postMessage({ type: 'closed' } satisfies DiffWorkerReply);
      });
      break;
  }
});
