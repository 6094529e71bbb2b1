// Bench section 'many-tensors': a safetensors file of 60,000 tiny float32 tensors (16 values each,
// ~4 MiB of values, made by scripts/bench/make_many_safetensors.py), where the cost per tensor
// matters rather than the bytes. Weightscope's shipped CLI (`inspect`, table and --json) side by
// side with a Python + NumPy peer (scripts/bench/safetensors_numpy.py: header, then mean/std/min/
// max/64-bin histogram per tensor), with ratios and peak RSS.
//
//   npm run bench -- --only many-tensors
//
// The file is generated once and cached in .bench/ (git-ignored).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

const tensors = 60000;
/** Targets printed with each run. */
const rssTargetMiB = 400;

/** The bench section (registered in scripts/bench.mjs). */
export const manyTensorsSection = {
  name: 'many-tensors',
  description: `inspect of a safetensors file of ${tensors} tiny float32 tensors (4x4) vs Python + NumPy: time and peak RSS per tensor`,
  run(ctx) {
    const file = ctx.ensure(`many-${tensors}.safetensors`, (f) => {
      const r = spawnSync(ctx.python, ['scripts/bench/make_many_safetensors.py', f, String(tensors)], { cwd: ctx.root, stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`could not generate the safetensors file (needs ${ctx.python} with numpy)`);
    });
    console.log(`  file ${path.relative(ctx.root, file)} (${(fs.statSync(file).size / 2 ** 20).toFixed(1)} MiB, ${tensors} tensors), ${os.availableParallelism()} CPUs`);
    ctx.warm(file);
    const cli = path.join(ctx.root, 'dist', 'cli.js');
    const sink = path.join(ctx.benchDir, 'many-tensors.out');
    const peer = ctx.measure(ctx.python, ['scripts/bench/safetensors_numpy.py', file, 'layer_12']);
    const text = ctx.measure(process.execPath, [cli, 'inspect', file], { stdoutFile: sink });
    const textBytes = fs.statSync(sink).size;
    const json = ctx.measure(process.execPath, [cli, 'inspect', file, '--json'], { stdoutFile: sink });
    const jsonBytes = fs.statSync(sink).size;
    fs.rmSync(sink, { force: true });
    const node = ctx.measure(process.execPath, ['-e', '0']);
    const theirs = JSON.parse(peer.stdout.trim().split('\n').pop());
    const perTensor = (m) => `${((m.wallMs * 1000) / tensors).toFixed(0)} us and ${m.maxRssKiB === undefined ? 'n/a' : ((m.maxRssKiB / tensors) * 1024).toFixed(0)} B peak RSS per tensor`;
    ctx.row('Python + NumPy (mean/std/min/max/hist)', peer, `${theirs.tensors} tensors`);
    ctx.row('weightscope inspect (table)', text, `${(textBytes / 2 ** 20).toFixed(1)} MiB out; ${perTensor(text)}`);
    ctx.row('weightscope inspect --json', json, `${(jsonBytes / 2 ** 20).toFixed(0)} MiB out; ${perTensor(json)}`);
    ctx.row('node -e 0 (Node.js start and exit alone)', node, 'for reference: part of every run of ours');
    console.log(`  ratios (wall): peer/table ${(peer.wallMs / text.wallMs).toFixed(2)}x, peer/json ${(peer.wallMs / json.wallMs).toFixed(2)}x`);
    if (peer.cpuMs !== undefined && text.cpuMs !== undefined && json.cpuMs !== undefined) {
      // CPU time is less sensitive to other load on the machine; the targets use wall time.
      console.log(`  ratios (cpu):  peer/table ${(peer.cpuMs / text.cpuMs).toFixed(2)}x, peer/json ${(peer.cpuMs / json.cpuMs).toFixed(2)}x; load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} CPUs`);
    }
    // Cross-check a sample of the numbers against the peer (the full --json report is hundreds of MiB).
    const sample = ctx.measure(process.execPath, [cli, 'inspect', file, '--json', '--tensor', 'layer_12']);
    const mine = Object.fromEntries(JSON.parse(sample.stdout).tensors.map((t) => [t.name, t.stats]));
    let mismatches = 0;
    const names = Object.keys(theirs.results);
    for (const name of names) {
      const p = theirs.results[name];
      const m = mine[name];
      const ok = m && m.min === p.min && m.max === p.max && Math.abs(m.mean - p.mean) <= 1e-9 * Math.max(p.std, 1e-30) && Math.abs(m.std - p.std) <= 1e-9 * p.std && m.histogram.counts.reduce((a, b) => a + b, 0) === p.histogram;
      if (!ok) {
        mismatches++;
        if (mismatches <= 5) console.log(`  MISMATCH ${name}: ours ${JSON.stringify(m && { mean: m.mean, std: m.std, min: m.min, max: m.max })} vs NumPy ${JSON.stringify(p)}`);
      }
    }
    console.log(`  results agree with NumPy on ${names.length - mismatches}/${names.length} sampled tensors (min/max exact, mean/std 1e-9 of std)`);
    ctx.target('many-tensors results agree with NumPy', mismatches === 0 && names.length > 0 && theirs.tensors === tensors, `${mismatches} mismatches of ${names.length}`);
    ctx.target('many-tensors table no slower than Python + NumPy', text.wallMs <= peer.wallMs, `${(peer.wallMs / text.wallMs).toFixed(2)}x`);
    ctx.target('many-tensors --json no slower than Python + NumPy', json.wallMs <= peer.wallMs, `${(peer.wallMs / json.wallMs).toFixed(2)}x`);
    const peak = Math.max(text.maxRssKiB ?? Infinity, json.maxRssKiB ?? Infinity);
    ctx.target(`many-tensors peak RSS < ${rssTargetMiB} MiB`, peak / 1024 < rssTargetMiB, `${Number.isFinite(peak) ? (peak / 1024).toFixed(0) : 'n/a'} MiB`);
  },
};
