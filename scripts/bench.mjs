// Speed and memory benchmarks: Weightscope side by side with a peer tool on the same file, in one
// run, with ratios and targets. Not part of `npm test`.
//   npm run bench                       every section
//   npm run bench -- --only keras-h5    one section (see --list)
//   npm run bench -- --list             section names
//   npm run bench -- --workers 2        worker threads for Weightscope (default: StatsPool's default)
//   npm run bench -- --pool-child       keras-h5: time a child that drives StatsPool from out/ (with open/stats
//                                       phase times) instead of the shipped CLI, `weightscope inspect --json`
//   npm run bench -- --plain-pool       with --pool-child: StatsPool without callerIdle/prepare/openFile
//   npm run bench -- --no-cold          skip the cold-cache rows (page cache evicted before each contender)
//   npm run bench -- --rounds N         keras-h5: rounds per cache state (default 3); targets use the
//                                       median of the rounds' ratios (each round times all contenders side by side)
// Generated inputs are cached in .bench/ (git-ignored). Python peers run with $PYTHON, else Debian's
// /usr/bin/python3 (python3-numpy, python3-h5py).
//
// Adding a section: append { name, description, run(ctx) } to `sections`; use ctx.measure() for every
// contender (it records wall time and the child's peak RSS), ctx.row() to print a result line and
// ctx.target() to print whether a target is met.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { diffSection } from './bench/diff.mjs';
import { manyTensorsSection } from './bench/manyTensors.mjs';
import { runtimeSection } from './bench/runtime.mjs';
import { tfBundleSection } from './bench/tfBundle.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const benchDir = path.join(root, '.bench');
const python = process.env.PYTHON || '/usr/bin/python3';
const timeBin = '/usr/bin/time';
const argv = process.argv.slice(2);

function argValue(name) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

// ------------------------------------------------------------------ child mode: Weightscope itself

/**
 * `bench.mjs --child-stats FILE [--workers N] [--plain-pool]`: the real path as a CLI runs it (a
 * StatsPool created first and prepared for the file, openLocalPath on the main thread, then the pool
 * over every numeric tensor, the main thread analysing too from its open file; --plain-pool: none of
 * callerIdle/prepare/openFile), in a child process so that its peak RSS can be measured on its own.
 */
async function childStats(file) {
  const require = createRequire(import.meta.url);
  const { openLocalPath } = require(path.join(root, 'out/src/formats/registry.js'));
  const { StatsPool } = require(path.join(root, 'out/src/analysis/statsPool.js'));
  const { isNumericDType } = require(path.join(root, 'out/src/core/dtypes.js'));
  const t0 = performance.now();
  const workers = argValue('--workers');
  const callerIdle = !argv.includes('--plain-pool');
  const pool = new StatsPool({ ...(workers ? { workers: Number(workers) } : {}), callerIdle });
  if (callerIdle) {
    pool.prepare(file, { early: true, histogramBins: 64 });
  }
  const wf = await openLocalPath(file);
  const names = wf.tensors.filter((t) => isNumericDType(t.dtype) && !t.unavailable).map((t) => t.name);
  const format = wf.format;
  const tOpen = performance.now();
  const results = await pool.analyzeFile(file, names, { histogramBins: 64, ...(callerIdle ? { openFile: wf } : {}) });
  const workerCount = pool.workerCount;
  await pool.dispose();
  await wf.close();
  const tDone = performance.now();
  const out = { format, tensors: names.length, workers: workerCount, callerIdle, openMs: tOpen - t0, statsMs: tDone - tOpen, results: {} };
  let failed = 0;
  for (const [name, r] of results) {
    if (r.ok) {
      const s = r.stats;
      out.results[name] = { mean: s.mean, std: s.std, min: s.min, max: s.max, histogram: s.histogram.counts.reduce((a, b) => a + b, 0), percentileErrorBound: s.percentileErrorBound };
    } else {
      failed++;
      out.results[name] = { error: r.error };
    }
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(failed ? 1 : 0);
}

// ------------------------------------------------------------------ harness

/** Runs a child process; returns wall time (ms), the child's peak RSS (KiB, when /usr/bin/time is there) and stdout. */
function measure(cmd, args, { stdoutFile } = {}) {
  const haveTime = fs.existsSync(timeBin);
  const fullCmd = haveTime ? timeBin : cmd;
  const fullArgs = haveTime ? ['-v', cmd, ...args] : args;
  const out = stdoutFile ? fs.openSync(stdoutFile, 'w') : 'pipe';
  const t0 = performance.now();
  const r = spawnSync(fullCmd, fullArgs, { cwd: root, stdio: ['ignore', out, 'pipe'], maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' });
  const wallMs = performance.now() - t0;
  if (typeof out === 'number') fs.closeSync(out);
  const stderr = r.stderr ?? '';
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const user = /User time \(seconds\): ([\d.]+)/.exec(stderr);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(stderr);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${stderr.split('\n').filter((l) => !/^\t/.test(l)).join('\n').slice(0, 4000)}`);
  }
  const cpuMs = user && sys ? (Number(user[1]) + Number(sys[1])) * 1000 : undefined;
  return { wallMs, cpuMs, maxRssKiB: rss ? Number(rss[1]) : undefined, stdout: r.stdout ?? '' };
}

function fmtMs(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

function fmtRss(kib) {
  return kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`;
}

const ctx = {
  root,
  benchDir,
  python,
  measure,
  /** Prints one contender's line. */
  row(label, m, extra = '') {
    const cpu = m.cpuMs === undefined ? '' : ` (cpu ${fmtMs(m.cpuMs)})`;
    console.log(`  ${label.padEnd(42)} ${fmtMs(m.wallMs).padStart(10)}${cpu.padEnd(16)}   peak RSS ${fmtRss(m.maxRssKiB).padStart(8)}${extra ? `   ${extra}` : ''}`);
  },
  /** Prints whether a target is met (never assumed: computed from the measurements). */
  target(label, met, detail) {
    ctx.results.push({ label, met });
    console.log(`  target ${met ? 'MET    ' : 'NOT MET'}  ${label} (${detail})`);
  },
  results: [],
  /** Reads the file once so that every contender reads it from the page cache. */
  warm(file) {
    spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] });
  },
  /**
   * Drops the file's pages from the page cache (posix_fadvise DONTNEED; no root needed for clean
   * pages), so that the next contender reads it from disk. Returns false when that is not possible.
   */
  evict(file) {
    const code = 'import os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\nos.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)\nos.close(fd)';
    return spawnSync(python, ['-c', code, file], { stdio: ['ignore', 'ignore', 'inherit'] }).status === 0;
  },
  /** Builds dist/ (the shipped CLI) and out/ (the transpiled sources the other children run). */
  build() {
    const r = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('build failed');
  },
  /** Makes a generated input once (cached in .bench/). */
  ensure(name, make) {
    fs.mkdirSync(benchDir, { recursive: true });
    const file = path.join(benchDir, name);
    if (!fs.existsSync(file)) {
      console.log(`  generating ${path.relative(root, file)} ...`);
      make(file);
    }
    return file;
  },
};

// ------------------------------------------------------------------ sections

const kerasH5Section = {
  name: 'keras-h5',
  description: 'full stats of a 512 MiB Keras HDF5 file (8 Dense kernels 4096x4096 float32) vs h5py+NumPy vs cat',
  run() {
    const file = ctx.ensure('keras-dense-8x4096x4096.h5', (f) => {
      const r = spawnSync(python, ['scripts/bench/make_keras_h5.py', f, '8', '4096', '4096'], { cwd: root, stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`could not generate the HDF5 file (needs ${python} with h5py and numpy; set PYTHON to another interpreter)`);
    });
    const sizeMiB = fs.statSync(file).size / 2 ** 20;
    console.log(`  file ${path.relative(root, file)} (${sizeMiB.toFixed(0)} MiB), ${os.availableParallelism()} CPUs`);
    if (process.env.NODE_EXTRA_CA_CERTS) {
      // nodejs/node#40524: with this variable set, Node.js builds its certificate store at every start.
      console.log('  note: NODE_EXTRA_CA_CERTS is set, so every Node.js start here (ours and the node -e 0 row) loads the CA certificates first');
    }
    const workers = argValue('--workers');
    // By default Weightscope is the shipped CLI (`weightscope inspect FILE --json`: every tensor's full
    // statistics, layers and the JSON report); --pool-child times the StatsPool child instead.
    const poolChild = argv.includes('--pool-child');
    const childArgs = poolChild
      ? [path.join(root, 'scripts', 'bench.mjs'), '--child-stats', file, ...(workers ? ['--workers', workers] : []), ...(argv.includes('--plain-pool') ? ['--plain-pool'] : [])]
      : [path.join(root, 'dist', 'cli.js'), 'inspect', file, '--json', '--bins', '64', ...(workers ? ['--workers', workers] : [])];
    /** The child's results in one shape: { tensors, results: { name: { mean, std, min, max, histogram } }, label, detail }. */
    const parseOurs = (stdout) => {
      if (poolChild) {
        const mine = JSON.parse(stdout.trim().split('\n').pop());
        const config = `${mine.callerIdle ? 'main thread + ' : ''}${mine.workers} worker${mine.workers === 1 ? '' : 's'}`;
        return { ...mine, label: `Weightscope StatsPool child (${config})`, detail: `${mine.tensors} tensors; open ${fmtMs(mine.openMs)}, stats ${fmtMs(mine.statsMs)}` };
      }
      const report = JSON.parse(stdout);
      const results = {};
      for (const t of report.tensors) {
        const st = t.stats;
        results[t.name] = st ? { mean: st.mean, std: st.std, min: st.min, max: st.max, histogram: st.histogram.counts.reduce((a, b) => a + b, 0) } : { error: 'no stats' };
      }
      const config = `main thread + ${workers ?? 'default'} worker${workers === '1' ? '' : 's'}`;
      return { tensors: report.tensors.filter((t) => t.stats).length, results, label: `weightscope inspect --json (${config})`, detail: `${report.tensors.length} tensors` };
    };
    /** One round of the three contenders; `prepare` runs before each (warm: read the file once; cold: evict it). */
    const round = (prepare) => {
      prepare();
      const cat = measure('sh', ['-c', `cat "${file}" > /dev/null`]);
      prepare();
      const peer = measure(python, ['scripts/bench/h5py_stats.py', file]);
      prepare();
      const ours = measure(process.execPath, childArgs);
      // For reference: the start and exit of Node.js alone, which every run of ours includes.
      const node = measure(process.execPath, ['-e', '0']);
      return { cat, peer, ours, node, mine: parseOurs(ours.stdout), theirs: JSON.parse(peer.stdout.trim().split('\n').pop()) };
    };
    const printRound = (label, r) => {
      console.log(`  ${label} (load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} CPUs after the round):`);
      ctx.row('cat file > /dev/null', r.cat, `${(sizeMiB / 1024 / (r.cat.wallMs / 1000)).toFixed(1)} GiB/s`);
      ctx.row('h5py + NumPy (mean/std/min/max/hist)', r.peer, `${r.theirs.datasets} datasets`);
      ctx.row(r.mine.label, r.ours, r.mine.detail);
      ctx.row('node -e 0 (Node.js start and exit alone)', r.node, 'for reference: part of every run of ours');
      const speedup = r.peer.wallMs / r.ours.wallMs;
      const vsCat = r.ours.wallMs / r.cat.wallMs;
      console.log(`  ratios (wall, ${label}): peer/ours ${speedup.toFixed(2)}x, ours/cat ${vsCat.toFixed(1)}x`);
      if (r.peer.cpuMs !== undefined && r.ours.cpuMs !== undefined && r.cat.cpuMs !== undefined) {
        // CPU time is less sensitive to other load on the machine; the targets use wall time.
        console.log(`  ratios (cpu, ${label}):  peer/ours ${(r.peer.cpuMs / r.ours.cpuMs).toFixed(2)}x, ours/cat ${(r.ours.cpuMs / Math.max(r.cat.cpuMs, 1)).toFixed(1)}x; load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} CPUs`);
      }
      return { speedup, vsCat };
    };
    const rounds = Math.max(1, Number(argValue('--rounds') ?? 3) || 1);
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
    /** `rounds` rounds in one cache state; the ratios are the medians of the rounds' ratios. */
    const series = (label, prepare) => {
      const runs = [];
      const ratios = [];
      for (let i = 0; i < rounds; i++) {
        const r = round(prepare);
        runs.push(r);
        ratios.push(printRound(`${label}, round ${i + 1}/${rounds}`, r));
      }
      const speedup = median(ratios.map((x) => x.speedup));
      const vsCat = median(ratios.map((x) => x.vsCat));
      if (rounds > 1) {
        console.log(`  ${label}: median over ${rounds} rounds: peer/ours ${speedup.toFixed(2)}x, ours/cat ${vsCat.toFixed(1)}x (rounds: ${ratios.map((x) => x.vsCat.toFixed(1) + 'x').join(', ')})`);
      }
      return { runs, ratios: { speedup, vsCat } };
    };
    const warmSeries = series('warm page cache', () => ctx.warm(file));
    const warmRatios = warmSeries.ratios;
    const canEvict = !argv.includes('--no-cold') && ctx.evict(file);
    const coldSeries = canEvict ? series('cold (page cache evicted before each contender)', () => ctx.evict(file)) : undefined;
    const coldRatios = coldSeries?.ratios;
    const all = [...warmSeries.runs, ...(coldSeries?.runs ?? [])];
    ctx.warm(file);
    // Cross-check the numbers against the peer: the speed only counts when the results agree.
    let mismatches = 0;
    let compared = 0;
    for (const r of all) {
      for (const [name, p] of Object.entries(r.theirs.results)) {
        const key = name.replace(/^model_weights\//, '');
        const m = r.mine.results[key] ?? r.mine.results[name];
        compared++;
        const ok = m && m.min === p.min && m.max === p.max && Math.abs(m.mean - p.mean) <= 1e-9 * Math.max(Math.abs(p.std), 1e-30) && Math.abs(m.std - p.std) <= 1e-9 * p.std && m.histogram === p.histogram;
        if (!ok) {
          mismatches++;
          console.log(`  MISMATCH ${name}: ours ${JSON.stringify(m)} vs peer ${JSON.stringify(p)}`);
        }
      }
    }
    console.log(`  results agree with NumPy on ${compared - mismatches}/${compared} datasets over all ${all.length} rounds (min/max exact, mean/std 1e-9)`);
    ctx.target('results agree with h5py+NumPy', mismatches === 0 && all.every((r) => r.mine.tensors === 8), `${mismatches} mismatches`);
    const of = rounds > 1 ? `, median of ${rounds} rounds` : '';
    ctx.target(`>= 3x faster than h5py+NumPy (warm page cache${of})`, warmRatios.speedup >= 3, `${warmRatios.speedup.toFixed(2)}x${coldRatios ? `; cold: ${coldRatios.speedup.toFixed(2)}x` : ''}`);
    if (coldRatios) {
      ctx.target(`within 2x of the raw read (cat, cold page cache${of})`, coldRatios.vsCat <= 2, `${coldRatios.vsCat.toFixed(1)}x; warm: ${warmRatios.vsCat.toFixed(1)}x`);
    } else {
      ctx.target(`within 2x of the raw read (cat, warm page cache${of}; cold rows skipped)`, warmRatios.vsCat <= 2, `${warmRatios.vsCat.toFixed(1)}x`);
    }
    const rssLimitMiB = 256 + 64;
    const peakKiB = Math.max(...all.map((r) => r.ours.maxRssKiB ?? Infinity));
    ctx.target(`peak RSS < ${rssLimitMiB} MiB`, Number.isFinite(peakKiB) && peakKiB / 1024 < rssLimitMiB, fmtRss(Number.isFinite(peakKiB) ? peakKiB : undefined));
  },
};

/** Benchmark sections in run order. */
const sections = [kerasH5Section, tfBundleSection, manyTensorsSection, diffSection, runtimeSection];

// ------------------------------------------------------------------ main

if (argv[0] === '--child-stats') {
  await childStats(argv[1]);
} else if (argv.includes('--list')) {
  for (const s of sections) console.log(`${s.name.padEnd(20)} ${s.description}`);
} else {
  const only = argValue('--only');
  const chosen = only ? sections.filter((s) => s.name === only) : sections;
  if (chosen.length === 0) {
    console.error(`no section named '${only}'; sections: ${sections.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  ctx.build();
  for (const s of chosen) {
    console.log(`\n== ${s.name}: ${s.description}`);
    await s.run(ctx);
  }
  const missed = ctx.results.filter((r) => !r.met);
  console.log(`\n${ctx.results.length - missed.length}/${ctx.results.length} targets met${missed.length ? `; not met: ${missed.map((r) => r.label).join('; ')}` : ''}`);
}
