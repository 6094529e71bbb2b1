// Bench section 'tf-bundle': a generated TensorFlow tensor bundle of >= 256 MiB (hundreds of
// tensors, several Snappy-compressed index blocks, 4 data shards, TF1 names with Adam slots).
// Measures: header open time (target: well under a second), full statistics over every tensor
// through openLocalPath + StatsPool with the peak RSS of that process (target: bounded, far below
// the file size), side by side with a Python + NumPy peer on the same bundle and a raw `cat`.
//
//   npm run bench -- --only tf-bundle
//
// The bundle is written once by test/unit/formats/helpers/bundleWriter.ts (built into out/) and
// cached under .bench/tf-bundle/ (git-ignored).
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
const openTargetMs = 500;
const rssTargetMiB = 256 + 64;

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
  console.log(`  generating ${path.relative(root, benchDir)}/ ...`);
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

/** Child mode: times five header opens of the bundle; prints one JSON line. */
async function childOpen(index) {
  const { openLocalPath } = require(path.join(root, 'out', 'src', 'formats', 'registry.js'));
  const opens = [];
  let meta;
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    const file = await openLocalPath(index);
    opens.push(Number(process.hrtime.bigint() - t0) / 1e6);
    meta = { tensors: file.tensors.length, dataBlocks: file.metadata.bundle.dataBlocks, slots: file.tensors.filter((t) => t.slotOf).length };
    await file.close();
  }
  process.stdout.write(`${JSON.stringify({ ...meta, firstOpenMs: opens[0], medianOpenMs: [...opens].sort((a, b) => a - b)[2], minOpenMs: Math.min(...opens) })}\n`);
}

/** The bench section (registered in scripts/bench.mjs). */
export const tfBundleSection = {
  name: 'tf-bundle',
  description: 'TensorFlow tensor bundle (>= 256 MiB, 384 tensors, multi-block Snappy index, 4 shards): header open, full stats, peak RSS vs NumPy and cat',
  run(ctx) {
    generate();
    const size = bundleBytes();
    const sizeMiB = size / 2 ** 20;
    const shards = fs.readdirSync(benchDir).filter((f) => f.includes('.data-')).map((f) => path.join(benchDir, f));
    console.log(`  bundle ${path.relative(root, indexPath)} + ${shards.length} shards (${sizeMiB.toFixed(0)} MiB)`);
    for (const f of shards) ctx.warm(f);
    const cat = ctx.measure('sh', ['-c', `cat ${shards.map((f) => `"${f}"`).join(' ')} > /dev/null`]);
    const peer = ctx.measure(ctx.python, ['scripts/bench/tf_bundle_numpy.py', indexPath]);
    const open = ctx.measure(process.execPath, [new URL(import.meta.url).pathname, '--child-open', indexPath]);
    const ours = ctx.measure(process.execPath, [path.join(root, 'scripts', 'bench.mjs'), '--child-stats', indexPath]);
    const o = JSON.parse(open.stdout.trim().split('\n').pop());
    const mine = JSON.parse(ours.stdout.trim().split('\n').pop());
    const theirs = JSON.parse(peer.stdout.trim().split('\n').pop());
    ctx.row('cat shards > /dev/null', cat);
    ctx.row('Python + NumPy (mean/std/min/max/hist)', peer, `${theirs.tensors} tensors`);
    ctx.row('Weightscope header open (5 opens)', open, `${o.tensors} tensors, ${o.dataBlocks} index blocks, ${o.slots} Adam slots; first ${o.firstOpenMs.toFixed(0)} ms, median ${o.medianOpenMs.toFixed(0)} ms, min ${o.minOpenMs.toFixed(0)} ms`);
    ctx.row('Weightscope full stats', ours, `${mine.tensors} tensors; open ${mine.openMs.toFixed(0)} ms, stats ${(mine.statsMs / 1000).toFixed(2)} s`);
    let mismatches = 0;
    for (const [name, m] of Object.entries(theirs.means)) {
      const r = mine.results[name];
      if (!r || r.error || Math.abs(r.mean - m) > 1e-9 * Math.max(Math.abs(r.std ?? 0), 1e-30)) {
        mismatches++;
        if (mismatches <= 5) console.log(`  MISMATCH ${name}: ours ${JSON.stringify(r)} vs NumPy mean ${m}`);
      }
    }
    console.log(`  means agree with NumPy on ${Object.keys(theirs.means).length - mismatches}/${Object.keys(theirs.means).length} tensors (1e-9 of std)`);
    const speedup = peer.wallMs / ours.wallMs;
    console.log(`  ratios: peer/ours ${speedup.toFixed(2)}x, ours/cat ${(ours.wallMs / cat.wallMs).toFixed(1)}x`);
    ctx.target('bundle results agree with NumPy', mismatches === 0 && mine.tensors === layers * 4, `${mismatches} mismatches`);
    ctx.target(`bundle header opens in < ${openTargetMs} ms`, o.firstOpenMs < openTargetMs, `first open ${o.firstOpenMs.toFixed(0)} ms`);
    ctx.target(`bundle stats peak RSS < ${rssTargetMiB} MiB (bundle ${sizeMiB.toFixed(0)} MiB)`, ours.maxRssKiB !== undefined && ours.maxRssKiB / 1024 < rssTargetMiB, `${ours.maxRssKiB === undefined ? 'n/a' : (ours.maxRssKiB / 1024).toFixed(0)} MiB`);
    ctx.target('bundle stats faster than Python + NumPy', speedup > 1, `${speedup.toFixed(2)}x`);
  },
};

if (process.argv[2] === '--child-open') {
  await childOpen(process.argv[3]);
}
