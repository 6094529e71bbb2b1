/**
 * The project's own WebAssembly modules (generated *.wasm.ts files, see scripts/make-kernels.mjs):
 * compiled once per thread, instantiated on demand. Their loops read and write little-endian
 * memory, so a big-endian host, or one without WebAssembly (or its SIMD, for the statistics
 * kernels), gets null and the callers' JS loops serve instead.
 */

/** The part of the WebAssembly API used here (the project's type libraries do not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: object };
}

/** A compiled module. */
export type WasmModule = object;

/** Exports every module here has: its memory. */
export interface WasmMemoryExports {
  memory: { buffer: ArrayBuffer };
}

const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function wasmApi(): WasmApi | undefined {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
}

/** Compiles a module given as base64, or null where it cannot run here (see above). */
export function compileWasm(base64: string): WasmModule | null {
  try {
    const wasm = wasmApi();
    const bytes = Buffer.from(base64, 'base64');
    return hostLittleEndian && wasm && wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  } catch {
    return null;
  }
}

/** A new instance of a compiled module (no imports), as its exports. */
export function instantiateWasm<E extends WasmMemoryExports>(module: WasmModule): E {
  const wasm = wasmApi();
  if (!wasm) {
    throw new Error('WebAssembly is not available');
  }
  return new wasm.Instance(module, {}).exports as E;
}
