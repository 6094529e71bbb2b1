/**
 * TensorFlow.js backend selection: tfjs-node when it is installed and loads, else the WASM backend
 * (its .wasm files ship next to the bundle), else the plain CPU backend. The chosen backend and
 * the reason for every fallback are reported so the UI, the CLI and the log can show them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WeightFileError } from '../core/errors';
import { registerSegmentSumKernels } from './segmentSum';
import { registerWasmBridges } from './wasmBridge';
import { registerConvFilterGradKernels } from './convFilterGrad';
import { registerDepthwiseGradKernels } from './depthwiseGrad';

/** The TF.js core module type. */
export type Tf = typeof import('@tensorflow/tfjs-core');

/** Backends in preference order. */
export const backendNames = ['tensorflow', 'wasm', 'cpu'] as const;

/** A TF.js backend name ('tensorflow' is tfjs-node). */
export type BackendName = (typeof backendNames)[number];

/** Which backend is in use and why. */
export interface BackendInfo {
  /** Backend in use. */
  name: BackendName;
  /** Human-readable label, e.g. 'WASM (SIMD, 2 threads)'. */
  label: string;
  /** One sentence per backend that was tried and not used. */
  fallbacks: string[];
  /** The backend asked for by name (absent: 'auto'); when it differs from `name`, another one stood in (see substitutedBackend). */
  requested?: BackendName;
}

/** One sentence saying that the backend asked for by name is not the one in use, and why; undefined when it is (or none was named). */
export function substitutedBackend(info: BackendInfo): string | undefined {
  if (info.requested === undefined || info.requested === info.name) {
    return undefined;
  }
  return `The ${info.requested} backend was asked for but ${info.label} is used: ${info.fallbacks.join(' ')}`;
}

/** Memory of the WebAssembly backend: a 32-bit heap, 4 GiB at most. */
export const wasmHeapLimitBytes = 4 * 2 ** 30;

/**
 * True for the failure of the WebAssembly backend that ran out of its heap (an access past its
 * end after a failed growth, or Emscripten's abort, which its malloc calls when the heap cannot
 * grow). Its heap is unusable afterwards.
 */
export function isWasmMemoryFailure(ex: unknown): boolean {
  const message = ex instanceof Error ? ex.message : String(ex);
  // A failed allocation surfaces as an access past the heap's end or as Emscripten's abort() from malloc.
  return (ex instanceof Error && ex.name === 'RuntimeError' && /memory access out of bounds|^Aborted\(/i.test(message)) || /Cannot enlarge memory|out of memory/i.test(message);
}

/**
 * `ex` as the error a user can act on when it is the WebAssembly backend's out-of-memory failure
 * while `what` (e.g. "probing") ran on batches of `batch` samples of `file`; else `ex` itself.
 */
export function explainWasmMemoryFailure(ex: unknown, file: string, what: string, batch: number, hint: string): unknown {
  if (!isWasmMemoryFailure(ex)) {
    return ex;
  }
  return new WeightFileError(
    'tooLarge',
    `${file}: the WebAssembly backend ran out of memory (it has ${wasmHeapLimitBytes / 2 ** 30} GiB at most) ${what} batches of ${batch} samples; ${hint}.`,
    { file },
    { cause: ex },
  );
}

/** Options for choosing a backend. */
export interface BackendOptions {
  /** Force one backend ('auto' = best available). */
  preferred?: BackendName | 'auto';
  /** Folder holding tfjs-backend-wasm's .wasm files (default: next to this bundle, else node_modules). */
  wasmDir?: string;
}

let current: Promise<{ tf: Tf; info: BackendInfo }> | undefined;
let currentPreferred = '';
let currentWasmDir: string | undefined;

/**
 * Initializes TF.js once per process with the best available backend. A selection that succeeded
 * is reused by every later call asking for the same backend; one that failed is not kept, so the
 * next call tries again. A call that names no `wasmDir` reuses the selection made with any (the
 * worker names its folder, the jobs it runs do not), one that names another folder selects anew.
 */
export function initBackend(options: BackendOptions = {}): Promise<{ tf: Tf; info: BackendInfo }> {
  const preferred = options.preferred ?? 'auto';
  const sameWasmDir = options.wasmDir === undefined || options.wasmDir === currentWasmDir;
  if (!current || preferred !== currentPreferred || !sameWasmDir) {
    currentPreferred = preferred;
    currentWasmDir = options.wasmDir;
    const selection = selectBackend(options);
    current = selection;
    // a failed selection is forgotten (unless another has replaced it meanwhile): the next job retries
    selection.catch(() => {
      if (current === selection) {
        current = undefined;
      }
    });
  }
  return current;
}

/** The tfjs-layers module type. */
export type Tfl = typeof import('@tensorflow/tfjs-layers');

/**
 * initBackend plus tfjs-layers (models, layers, training). tfjs-layers also registers the gradients
 * of the core ops, which the Node build of tfjs-core does not do by itself.
 */
export async function initLayers(options: BackendOptions = {}): Promise<{ tf: Tf; tfl: Tfl; info: BackendInfo }> {
  const { tf, info } = await initBackend(options);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tfl: Tfl = require('@tensorflow/tfjs-layers');
  return { tf, tfl, info };
}

/** Where tfjs-backend-wasm's .wasm files are: next to the bundle (dist/) or in node_modules. */
export function findWasmDir(explicit?: string): string | undefined {
  const candidates = [
    explicit,
    __dirname,
    path.join(__dirname, '..'),
    path.join(__dirname, '..', '..', 'dist'),
    path.join(__dirname, '..', '..', '..', 'dist'),
  ].filter((p): p is string => !!p);
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'tfjs-backend-wasm.wasm'))) {
      return dir;
    }
  }
  try {
    return path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  } catch {
    return undefined; // the package is not installed; the CPU backend remains
  }
}

async function selectBackend(options: BackendOptions): Promise<{ tf: Tf; info: BackendInfo }> {
  const preferred = options.preferred ?? 'auto';
  const fallbacks: string[] = [];
  const order: BackendName[] = preferred === 'auto' ? [...backendNames] : [preferred, ...backendNames.filter((b) => b !== preferred)];
  // tfjs-node registers the 'tensorflow' backend on the same tfjs-core instance when versions match.
  // Lazy requires: the packages load only when TF.js work starts, and tfjs-node is optional.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tf: Tf = require('@tensorflow/tfjs-core');
  silenceNodeBackendHint(tf);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-cpu');
  registerSegmentSumKernels(tf);
  registerConvFilterGradKernels(tf);
  registerDepthwiseGradKernels(tf);
  for (const name of order) {
    try {
      if (name === 'tensorflow') {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require('@tensorflow/tfjs-node');
      } else if (name === 'wasm') {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const wasm: typeof import('@tensorflow/tfjs-backend-wasm') = require('@tensorflow/tfjs-backend-wasm');
        registerWasmBridges(tf);
        const dir = findWasmDir(options.wasmDir);
        if (!dir) {
          throw new Error('its .wasm files were not found');
        }
        wasm.setWasmPaths(`${dir}${path.sep}`);
      }
      await initializeBackend(tf, name);
      return { tf, info: { name, label: describe(tf, name), fallbacks, ...(preferred !== 'auto' ? { requested: preferred } : {}) } };
    } catch (ex) {
      const why = ex instanceof Error ? ex.message.split('\n')[0] : String(ex);
      fallbacks.push(
        name === 'tensorflow' && /Cannot find module/.test(why ?? '')
          ? 'tfjs-node is not installed (optional dependency), so the native TensorFlow backend is not used.'
          : `The ${name} backend could not be used: ${why}.`,
      );
    }
  }
  throw new Error(`No TensorFlow.js backend could be initialized: ${fallbacks.join(' ')}`);
}

/**
 * Makes `name` TF.js's backend. The WebAssembly module takes the console.warn of the moment as its
 * error printer while it initializes; it is given one that leaves out its 'Aborted(...)' line, which
 * the out-of-memory error of a job (explainWasmMemoryFailure) says in full, and prints the rest.
 */
async function initializeBackend(tf: Tf, name: BackendName): Promise<void> {
  const warn = console.warn;
  if (name === 'wasm') {
    console.warn = (...args: unknown[]): void => {
      if (!(args.length === 1 && typeof args[0] === 'string' && args[0].startsWith('Aborted('))) {
        warn.apply(console, args);
      }
    };
  }
  try {
    if (!(await tf.setBackend(name))) {
      throw new Error('it failed to initialize');
    }
    await tf.ready();
  } finally {
    console.warn = warn;
  }
}

function describe(tf: Tf, name: BackendName): string {
  if (name === 'tensorflow') {
    return 'TensorFlow native (tfjs-node)';
  }
  if (name === 'wasm') {
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
    return `WebAssembly${simd ? ' (SIMD' : ' ('}${threads ? ', threads)' : simd ? ')' : 'scalar)'}`;
  }
  return 'CPU (plain JavaScript)';
}

/**
 * The CPU backend prints a banner recommending tfjs-node; the backend line we show says it instead.
 * PROD silences TF.js warnings; IS_TEST would too, but it also turns on per-kernel memory-leak
 * checks that fail on the WASM backend's fused kernels.
 */
function silenceNodeBackendHint(tf: Tf): void {
  try {
    tf.env().set('PROD', true);
  } catch {
    // flag unknown in this version: the banner is only cosmetic
  }
}
