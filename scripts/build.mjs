// Builds the bundles in dist/ (extension, CLI, workers, webviews) and transpiles sources and
// tests into out/ for the unit tests. Type checking is `npm run typecheck`.
//   node scripts/build.mjs [--dist-only | --out-only] [--production]
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = new Set(process.argv.slice(2));
const production = args.has('--production');
/** Constants the sources declare and the build defines (`weightscope --version` prints package.json's version). */
const define = { WEIGHTSCOPE_VERSION: JSON.stringify(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version) };

/** Packages loaded at run time from node_modules (ESM-only, WASM payloads, native bindings). */
const nodeExternals = ['vscode', 'h5wasm', 'h5wasm/*', '@tensorflow/*'];

function listTs(dir) {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Bundled entry points: [entry, output name, platform]. Missing entries are skipped. */
const bundles = [
  ['src/extension/extension.ts', 'extension', 'node'],
  ['src/cli/main.ts', 'cli', 'node'],
  ['src/analysis/statsWorker.ts', 'statsWorker', 'node'],
  ['src/analysis/diffWorker.ts', 'diffWorker', 'node'],
  ['src/analysis/checkWorker.ts', 'checkWorker', 'node'],
  ['src/analysis/fingerprintWorker.ts', 'fingerprintWorker', 'node'],
  ['src/runtime/tfWorker.ts', 'tfWorker', 'node'],
  ['src/webview/weightsPanel/main.ts', 'webview/weightsPanel', 'browser'],
  ['src/webview/diffPanel/main.ts', 'webview/diffPanel', 'browser'],
  ['src/webview/trainingPanel/main.ts', 'webview/trainingPanel', 'browser'],
];

async function buildDist() {
  const jobs = [];
  for (const [entry, name, platform] of bundles) {
    if (!fs.existsSync(path.join(root, entry))) continue;
    jobs.push(
      esbuild.build({
        entryPoints: [path.join(root, entry)],
        outfile: path.join(root, 'dist', `${name}.js`),
        bundle: true,
        platform,
        format: platform === 'node' ? 'cjs' : 'iife',
        target: platform === 'node' ? 'node20' : 'es2022',
        external: platform === 'node' ? nodeExternals : [],
        sourcemap: production ? false : 'linked',
        minify: production,
        banner: name === 'cli' ? { js: '#!/usr/bin/env node' } : undefined,
        define,
        metafile: true,
        logLevel: 'warning',
      }),
    );
  }
  const written = new Set((await Promise.all(jobs)).flatMap(outputsOf));
  const cli = path.join(root, 'dist', 'cli.js');
  if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
  // The TF.js WASM backend loads its .wasm files from next to the bundle.
  const wasmDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  if (fs.existsSync(wasmDir)) {
    for (const f of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) {
      fs.copyFileSync(path.join(wasmDir, f), path.join(root, 'dist', f));
      written.add(path.join(root, 'dist', f));
    }
  }
  return written;
}

async function buildOut() {
  // Webview code runs in the browser bundles; only its DOM-free shared helpers are tested under Node.
  const webview = path.join(root, 'src', 'webview') + path.sep;
  const webviewShared = path.join(webview, 'shared') + path.sep;
  const entries = [...listTs(path.join(root, 'src')), ...listTs(path.join(root, 'test'))].filter(
    (f) => !f.startsWith(webview) || f.startsWith(webviewShared),
  );
  const result = await esbuild.build({
    entryPoints: entries,
    outdir: path.join(root, 'out'),
    outbase: root,
    bundle: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    define,
    metafile: true,
    logLevel: 'warning',
  });
  return new Set(outputsOf(result));
}

/** The files an esbuild result wrote (its metafile's outputs), as absolute paths. */
function outputsOf(result) {
  return Object.keys(result.metafile.outputs).map((f) => path.resolve(process.cwd(), f));
}

/**
 * Removes from `dir` every file this build did not write (and folders left empty), so that the
 * bundle of a removed entry point, or the transpiled copy of a deleted source or test, can neither
 * ship in the .vsix nor keep running as a unit test. The build writes over the other files in
 * place, so a process using dist/ or out/ meanwhile (the extension under `npm start`, a test run)
 * never finds them missing.
 */
function removeStale(dir, written) {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      removeStale(p, written);
      if (fs.readdirSync(p).length === 0) fs.rmdirSync(p);
    } else if (!written.has(p)) {
      fs.rmSync(p, { force: true });
    }
  }
}

if (!args.has('--out-only')) {
  removeStale(path.join(root, 'dist'), await buildDist());
}
if (!args.has('--dist-only')) {
  removeStale(path.join(root, 'out'), await buildOut());
}
