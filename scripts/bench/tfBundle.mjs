// Bench section 'tf-bundle': a generated TensorFlow tensor bundle of >= 256 MiB (hundreds of
// tensors, several Snappy-compressed index blocks, 4 data shards, TF1 names with Adam slots).
// Measures: header open time (target: well under a second), full statistics over every tensor
// through openLocalPath + StatsPool with the peak RSS of that process (target: bounded, far below
// the file size), side by side with a Python + NumPy peer on the same bundle and a raw `cat`.
//
//   node scripts/bench/tfBundle.mjs              run the section on its own
//   import { tfBundleSection } from './bench/tfBundle.mjs'   as a section of scripts/bench.mjs
//
// The bundle is written once by test/unit/formats/helpers/bundleWriter.ts (built into out/) and
// cached under .bench/tf-bundle/ (git-ignored).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const require = createRequire(import.meta.url);
const benchDir = path.join(root, '.bench', 'tf-bundle');
const prefix = 'model.ckpt';
const indexPath = path.join(benchDir, `${prefix}.index`);

/** Layout of the generated bundle. */
const layers = 96; // x (kernel 1 MiB + Adam m + Adam v + bias) = 384 tensors, ~289 MiB
const rows = 512;
const cols = 512;
const numShards = 4;
const generatorVersion = 1;

/** Targets printed with each run. */
const openTargetMs = 250;
const rssTargetMiB = 256 + 64;

function build() {
  const r = spawnSync(process.execPath, ['scripts/build.mjs', '--out-only'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('build failed');
}

/** xorshift32 + Box-Muller normal values into a Float32Array. */
function fillNormal(out, state, scale) {
  let s = state.s;
  for (let i = 0; i < out.length; i += 2) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const u1 = (s + 1) / 4294967297;
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const u2 = s / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1)) * scale;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  state.s = s;
}

function generate() {
  const stamp = path.join(benchDir, 'generated.json');
  if (fs.existsSync(stamp) && JSON.parse(fs.readFileSync(stamp, 'utf8')).version === generatorVersion) return;
  fs.rmSync(benchDir, { recursive: true, force: true });
  fs.mkdirSync(benchDir, { recursive: true });
  const { BundleWriter } = require(path.join(root, 'out', 'test', 'unit', 'formats', 'helpers', 'bundleWriter.js'));
  const fds = Array.from({ length: numShards }, (_, s) =>
    fs.openSync(path.join(benchDir, `${prefix}.data-${String(s).padStart(5, '0')}-of-${String(numShards).padStart(5, '0')}`), 'w'),
  );
  const sink = { write: (shard, bytes) => fs.writeSync(fds[shard], bytes) };
  const w = new BundleWriter(prefix, { numShards, blockSizeBytes: 4096, restartInterval: 16, snappy: true }, sink);
  const state = { s: 2463534242 };
  const rowChunk = 64;
  const chunks = (scale) =>
    (function* () {
      const buf = new Float32Array(rowChunk * cols);
      for (let r = 0; r < rows; r += rowChunk) {
        fillNormal(buf, state, scale);
        yield new Uint8Array(buf.buffer.slice(0));
      }
    })();
  for (let l = 0; l < layers; l++) {
    const shard = l % numShards;
    const name = `dense_${l}`;
    w.addStreamed(`${name}/kernel`, 'float32', [rows, cols], chunks(1 / Math.sqrt(rows)), shard);
    w.addStreamed(`${name}/kernel/Adam`, 'float32', [rows, cols], chunks(1e-3), shard);
    w.addStreamed(`${name}/kernel/Adam_1`, 'float32', [rows, cols], chunks(1e-6), shard);
    const bias = new Float32Array(cols);
    fillNormal(bias, state, 0.01);
    w.add(`${name}/bias`, 'float32', [cols], bias, shard);
  }
  fds.forEach((fd) => fs.closeSync(fd));
  fs.writeFileSync(indexPath, w.index());
  fs.writeFileSync(stamp, JSON.stringify({ version: generatorVersion }));
}

function bundleBytes() {
  return fs.readdirSync(benchDir).filter((f) => f.startsWith(prefix)).reduce((a, f) => a + fs.statSync(path.join(benchDir, f)).size, 0);
}

function timeCat() {
  const files = fs.readdirSync(benchDir).filter((f) => f.includes('.data-')).map((f) => path.join(benchDir, f));
  const t0 = process.hrtime.bigint();
  const r = spawnSync('cat', files, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error('cat failed');
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Child mode: open (timed), then statistics over every tensor; prints one JSON line. */
async function child(index) {
  const { openLocalPath } = require(path.join(root, 'out', 'src', 'formats', 'registry.js'));
  const { StatsPool } = require(path.join(root, 'out', 'src', 'analysis', 'statsPool.js'));
  const opens = [];
  let file;
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    file = await openLocalPath(index);
    opens.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (i < 4) await file.close();
  }
  const names = file.tensors.map((t) => t.name);
  const meta = { tensors: names.length, dataBlocks: file.metadata.bundle.dataBlocks, slots: file.tensors.filter((t) => t.slotOf).length };
  await file.close();
  const pool = new StatsPool({});
  const t0 = process.hrtime.bigint();
  const results = await pool.analyzeFile(index, names, { histogramBins: 64 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await pool.dispose();
  const means = {};
  let failed = 0;
  for (const [n, r] of results) {
    if (r.ok) means[n] = r.stats.mean;
    else failed++;
  }
  process.stdout.write(
    `${JSON.stringify({ ...meta, firstOpenMs: opens[0], medianOpenMs: [...opens].sort((a, b) => a - b)[2], seconds, failed, maxRssMiB: process.resourceUsage().maxRSS / 1024, means })}\n`,
  );
}

/** The bench section. */
export const tfBundleSection = {
  name: 'tf-bundle',
  description: 'TensorFlow tensor bundle (>= 256 MiB, 384 tensors, multi-block Snappy index, 4 shards): header open, full stats, peak RSS vs NumPy and cat',
  async run() {
    build();
    generate();
    const size = bundleBytes();
    console.log(`tf-bundle: ${path.relative(root, indexPath)} + ${numShards} shards, ${(size / 2 ** 20).toFixed(1)} MiB`);
    timeCat(); // warm the page cache for every contender
    const cat = timeCat();
    const ours = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child', indexPath], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (ours.status !== 0) throw new Error(`weightscope run failed: ${ours.stderr}`);
    const o = JSON.parse(ours.stdout.trim().split('\n').pop());
    const peerRun = spawnSync('/usr/bin/python3', [path.join(root, 'scripts', 'bench', 'tf_bundle_numpy.py'), indexPath], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const peer = peerRun.status === 0 ? JSON.parse(peerRun.stdout.trim()) : undefined;
    let maxRel = 0;
    if (peer) {
      for (const [n, m] of Object.entries(peer.means)) {
        const ourMean = o.means[n];
        maxRel = Math.max(maxRel, Math.abs(ourMean - m) / Math.max(1e-30, Math.abs(m)));
      }
    }
    const line = (label, value) => console.log(`  ${label.padEnd(34)} ${value}`);
    line('tensors / index data blocks / slots', `${o.tensors} / ${o.dataBlocks} / ${o.slots}`);
    line('header open (first, median of 5)', `${o.firstOpenMs.toFixed(1)} ms, ${o.medianOpenMs.toFixed(1)} ms  (target < ${openTargetMs} ms: ${o.firstOpenMs < openTargetMs ? 'met' : 'NOT met'})`);
    line('Weightscope full stats', `${o.seconds.toFixed(2)} s, ${o.failed} failed`);
    line('peak RSS (Weightscope process)', `${o.maxRssMiB.toFixed(0)} MiB for a ${(size / 2 ** 20).toFixed(0)} MiB bundle  (target < ${rssTargetMiB} MiB: ${o.maxRssMiB < rssTargetMiB ? 'met' : 'NOT met'})`);
    line('cat (raw read, warm cache)', `${cat.toFixed(2)} s  (ours/cat ${(o.seconds / cat).toFixed(2)}x)`);
    if (peer) {
      line('NumPy peer (tf_bundle_numpy.py)', `${peer.seconds.toFixed(2)} s  (peer/ours ${(peer.seconds / o.seconds).toFixed(2)}x)`);
      line('means vs NumPy, max relative diff', `${maxRel.toExponential(2)} over ${Object.keys(peer.means).length} tensors`);
    } else {
      line('NumPy peer', `failed: ${peerRun.stderr.trim().split('\n').pop()}`);
    }
    return { ...o, means: undefined, catSeconds: cat, peerSeconds: peer?.seconds, maxRelMeanDiff: maxRel };
  },
};

if (process.argv[2] === '--child') {
  await child(process.argv[3]);
} else if (path.resolve(process.argv[1] ?? '') === path.resolve(new URL(import.meta.url).pathname)) {
  await tfBundleSection.run();
}
