/**
 * Worker-thread entry of the diff pool: opens both files itself (headers only, kept open while
 * jobs for them arrive) and compares the tensor pairs it is sent, one message per pair, or
 * fingerprints the single tensors it is sent (those no pair read).
 */
import { parentPort } from 'node:worker_threads';
import { summarizeError, WeightFileError } from '../core/errors';
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

/**
 * Runs job `id` with an AbortController that a `cancel` message reaches; its failure becomes an
 * `error` reply (a tensor gone from its file: notFound).
 */
async function answer(id: number, work: (signal: AbortSignal) => Promise<DiffWorkerReply>): Promise<DiffWorkerReply> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    return await work(controller.signal);
  } catch (ex) {
    return { type: 'error', id, error: summarizeError(ex) };
  } finally {
    running.delete(id);
  }
}

function gone(name: string): WeightFileError {
  return new WeightFileError('notFound', `Tensor '${name}' is no longer in its file; it may have changed on disk.`);
}

function runJob(job: Extract<DiffJobMessage, { type: 'job' }>): Promise<DiffWorkerReply> {
  return answer(job.id, async (signal) => {
    const [fa, fb] = await Promise.all([open(job.pathA), open(job.pathB)]);
    const ta = fa.tensors.find((t) => t.name === job.a);
    const tb = fb.tensors.find((t) => t.name === job.b);
    if (!ta || !tb) {
      throw gone(ta ? job.b : job.a);
    }
    const known = {
      a: job.knownA ? new Map([[job.a, job.knownA]]) : undefined,
      b: job.knownB ? new Map([[job.b, job.knownB]]) : undefined,
    };
    return { type: 'result', id: job.id, diff: await diffTensorPair(ta, tb, job.matchedBy, { chunkElements: job.chunkElements, signal, known }) };
  });
}

function runFingerprint(job: Extract<DiffJobMessage, { type: 'fingerprint' }>): Promise<DiffWorkerReply> {
  return answer(job.id, async (signal) => {
    const t = (await open(job.filePath)).tensors.find((x) => x.name === job.name);
    if (!t) {
      throw gone(job.name);
    }
    return { type: 'fingerprint', id: job.id, fingerprint: await fingerprintTensor(t, { signal, chunkElements: job.chunkElements }) };
  });
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
