// Bench section 'diff': the diff of two 512 MiB TF.js checkpoints (32 float32 tensors of
// 4096x1024 in 64 MiB shards; B = A plus seeded noise on most tensors, 4 tensors identical),
// Weightscope (`diffLocalFiles` as `weightscope diff` runs it: lockstep streaming in worker
// threads, one per CPU, SHA-256 fingerprints in the same pass) side by side with NumPy computing the same per-tensor metrics on the same files
// (scripts/bench/diff_numpy.py), and a raw `cat` of both files. Prints the ratio, checks that the
// numbers agree, and the peak RSS of each process.
//
//   npm run bench -- --only diff
//
// The checkpoints are generated once into .bench/diff/ (git-ignored).
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const benchDir = path.join(root, '.bench', 'diff');
const generatorVersion = 1;

/** Layout: 32 tensors x 4096 x 1024 float32 = 512 MiB per checkpoint, 4 tensors per 64 MiB shard. */
const tensorCount = 32;
const rows = 4096;
const cols = 1024;
const tensorsPerShard = 4;
/** Tensors of B equal to A (the rest get noise). */
const identical = new Set([3, 11, 19, 27]);
/** Peak RSS target of the Weightscope process, in MiB (streaming: far below the 1 GiB of input). */
const rssTargetMiB = 256 + 64;

/** xorshift32 uniform values in [-scale, scale) into a Float32Array. */
function fillUniform(out, state, scale) {
  let s = state.s;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = (s / 4294967296 * 2 - 1) * scale;
  }
  state.s = s;
}

function writeCheckpoint(dir, valuesOf) {
  fs.mkdirSync(dir, { recursive: true });
  const shards = tensorCount / tensorsPerShard;
  const paths = Array.from({ length: shards }, (_, i) => `group1-shard${i + 1}of${shards}.bin`);
  const weights = [];
  for (let s = 0; s < shards; s++) {
    const fd = fs.openSync(path.join(dir, paths[s]), 'w');
    for (let k = 0; k < tensorsPerShard; k++) {
      const t = s * tensorsPerShard + k;
      const v = valuesOf(t);
      fs.writeSync(fd, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      weights.push({ name: `dense_${t}/kernel`, shape: [rows, cols], dtype: 'float32' });
    }
    fs.closeSync(fd);
  }
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', generatedBy: 'weightscope bench', convertedBy: null, modelTopology: null, weightsManifest: [{ paths, weights }] }));
}

function generate() {
  const stamp = path.join(benchDir, 'generated.json');
  if (fs.existsSync(stamp) && JSON.parse(fs.readFileSync(stamp, 'utf8')).version === generatorVersion) return;
  console.log(`  generating ${path.relative(root, benchDir)}/ (2 x 512 MiB) ...`);
  fs.rmSync(benchDir, { recursive: true, force: true });
  const base = (t) => {
    const v = new Float32Array(rows * cols);
    fillUniform(v, { s: 0x9e3779b9 ^ (t * 2654435761) >>> 0 || 1 }, 0.05);
    return v;
  };
  writeCheckpoint(path.join(benchDir, 'a'), base);
  writeCheckpoint(path.join(benchDir, 'b'), (t) => {
    const v = base(t);
    if (!identical.has(t)) {
      const noise = new Float32Array(v.length);
      fillUniform(noise, { s: (t + 1) * 40503 }, 0.002 * (1 + t / 8));
      for (let i = 0; i < v.length; i++) v[i] += noise[i];
    }
    return v;
  });
  fs.writeFileSync(stamp, JSON.stringify({ version: generatorVersion }));
}

/** `diff.mjs --child A B [--workers N]`: Weightscope's diff in its own process (for its RSS). */
async function child(a, b, workers) {
  const require = createRequire(import.meta.url);
  const { diffLocalFiles } = require(path.join(root, 'out', 'src', 'analysis', 'diffPool.js'));
  const t0 = performance.now();
  const r = await diffLocalFiles(a, b, { workers: workers ? Number(workers) : undefined, callerIdle: true });
  const out = { ms: performance.now() - t0, relL2: r.summary.relL2, tensors: {} };
  for (const t of r.tensors) {
    out.tensors[t.a] = { relL2: t.relL2, cosine: t.cosine, maxAbsDiff: t.maxAbsDiff, meanAbsDiff: t.meanAbsDiff, changedFraction: t.changedFraction, signFlipFraction: t.signFlipFraction, stdA: t.stdA, stdB: t.stdB };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/** The bench section. */
export const diffSection = {
  name: 'diff',
  description: 'diff of two 512 MiB TF.js checkpoints (32 x 4096x1024 float32) vs NumPy doing the same vs cat',
  run(ctx) {
    generate();
    const a = path.join(benchDir, 'a', 'model.json');
    const b = path.join(benchDir, 'b', 'model.json');
    const shardsOf = (d) => fs.readdirSync(d).filter((f) => f.endsWith('.bin')).map((f) => path.join(d, f));
    const files = [...shardsOf(path.dirname(a)), ...shardsOf(path.dirname(b))];
    for (const f of files) ctx.warm(f);
    const cat = ctx.measure('sh', ['-c', `cat ${files.map((f) => `"${f}"`).join(' ')} > /dev/null`]);
    const peer = ctx.measure(ctx.python, [path.join(root, 'scripts', 'bench', 'diff_numpy.py'), a, b]);
    const wi = process.argv.indexOf('--workers');
    const workers = wi >= 0 ? process.argv[wi + 1] : undefined;
    const ours = ctx.measure(process.execPath, [path.join(root, 'scripts', 'bench', 'diff.mjs'), '--child', a, b, ...(workers ? ['--workers', workers] : [])]);
    if (!peer.stdout.trim() || !ours.stdout.trim()) {
      throw new Error(`a contender printed nothing (is ${ctx.python} with numpy there? did the build run?)`);
    }
    const theirs = JSON.parse(peer.stdout.trim().split('\n').pop());
    const mine = JSON.parse(ours.stdout.trim().split('\n').pop());
    ctx.row('cat both checkpoints > /dev/null', cat);
    ctx.row('NumPy (same per-tensor metrics)', peer);
    ctx.row(`Weightscope diff (${workers ?? 'default'} workers, + SHA-256)`, ours, `diff ${(mine.ms / 1000).toFixed(2)} s in-process`);
    let mismatches = 0;
    for (const [name, p] of Object.entries(theirs.tensors)) {
      const m = mine.tensors[name];
      const close = (x, y) => (x === null || y === null ? x === y : Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y)));
      const ok = m && ['relL2', 'cosine', 'maxAbsDiff', 'meanAbsDiff', 'changedFraction', 'signFlipFraction', 'stdA', 'stdB'].every((k) => close(m[k], p[k]));
      if (!ok) {
        mismatches++;
        console.log(`  MISMATCH ${name}: ours ${JSON.stringify(m)} vs NumPy ${JSON.stringify(p)}`);
      }
    }
    const n = Object.keys(theirs.tensors).length;
    console.log(`  results agree with NumPy on ${n - mismatches}/${n} tensors (1e-9 relative); model relL2 ${mine.relL2} vs ${theirs.relL2}`);
    const ratio = peer.wallMs / ours.wallMs;
    console.log(`  ratio (wall): NumPy/Weightscope ${ratio.toFixed(2)}x, Weightscope/cat ${(ours.wallMs / cat.wallMs).toFixed(1)}x`);
    if (peer.cpuMs !== undefined && ours.cpuMs !== undefined) {
      console.log(`  ratio (cpu):  NumPy/Weightscope ${(peer.cpuMs / ours.cpuMs).toFixed(2)}x`);
    }
    ctx.target('diff results agree with NumPy', mismatches === 0 && n === tensorCount, `${mismatches} mismatches of ${n}`);
    ctx.target('diff at least as fast as NumPy', ratio >= 1, `${ratio.toFixed(2)}x`);
    ctx.target(`diff peak RSS < ${rssTargetMiB} MiB`, ours.maxRssKiB !== undefined && ours.maxRssKiB / 1024 < rssTargetMiB, `${ours.maxRssKiB === undefined ? 'n/a' : (ours.maxRssKiB / 1024).toFixed(0)} MiB`);
  },
};

if (process.argv[2] === '--child') {
  const wi = process.argv.indexOf('--workers');
  await child(process.argv[3], process.argv[4], wi >= 0 ? process.argv[wi + 1] : undefined);
}
