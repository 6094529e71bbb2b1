import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fingerprintFile } from '../../../src/analysis/fingerprint';
import { analyzeFileCached, fingerprintFileCached, StatsCache, type FingerprintRunner } from '../../../src/analysis/statsCache';
import type { TensorResult } from '../../../src/analysis/statsPool';
import { computeArrayStats } from '../../../src/analysis/tensorStats';
import { openLocalPath } from '../../../src/formats/registry';
import { fixtureOrSkip, makeTempDir, repoRoot } from '../helpers/fixtures';
import { errnoError, failFsCall } from '../helpers/fsFailure';

/** A stand-in for StatsPool that derives stats from the file's bytes and counts its calls. */
function countingPool() {
  const calls: string[][] = [];
  return {
    calls,
    async analyzeFile(filePath: string, names: readonly string[]): Promise<Map<string, TensorResult>> {
      calls.push([...names]);
      const bytes = fs.readFileSync(filePath);
      return new Map(
        names.map((n): [string, TensorResult] =>
          n === 'broken' ? [n, { ok: false, error: { reason: 'corrupt', message: 'bad' } }] : [n, { ok: true, stats: computeArrayStats([...bytes, n.length]) }],
        ),
      );
    },
  };
}

function writeInput(dir: string, name: string, bytes: number[]): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, Buffer.from(bytes));
  return p;
}

test('hit on the same (path, size, mtime); miss after the file changes', async () => {
  const dir = makeTempDir('weightscope-cache-');
  const input = writeInput(dir, 'weights.bin', [1, 2, 3, 4]);
  const cache = new StatsCache();
  const pool = countingPool();
  const first = await analyzeFileCached(pool, cache, input, ['a', 'b']);
  assert.deepEqual(pool.calls, [['a', 'b']]);
  const second = await analyzeFileCached(pool, cache, input, ['b', 'a']);
  assert.deepEqual(pool.calls, [['a', 'b']], 'served from the cache');
  assert.deepEqual(second.get('a'), first.get('a'));
  assert.deepEqual([...second.keys()], ['b', 'a']);
  // Only the missing tensor is computed.
  await analyzeFileCached(pool, cache, input, ['a', 'c']);
  assert.deepEqual(pool.calls[1], ['c']);
  // Change the file: new content, new size and mtime.
  fs.writeFileSync(input, Buffer.from([9, 9, 9, 9, 9]));
  fs.utimesSync(input, new Date(), new Date(Date.now() + 5000));
  const changed = await analyzeFileCached(pool, cache, input, ['a']);
  assert.deepEqual(pool.calls[2], ['a'], 'recomputed after the change');
  const r = changed.get('a')!;
  assert.ok(r.ok && r.stats.max === 9);
  // A different bin count is a different entry.
  await analyzeFileCached(pool, cache, input, ['a'], { histogramBins: 10 });
  assert.deepEqual(pool.calls[3], ['a']);
});

test('a same-size rewrite with a new mtime is a miss', async () => {
  const dir = makeTempDir('weightscope-cache-');
  const input = writeInput(dir, 'w.bin', [1, 1]);
  fs.utimesSync(input, new Date(1_000_000), new Date(1_000_000));
  const cache = new StatsCache();
  const key1 = (await StatsCache.keyFor(input))!;
  await cache.put(key1, new Map([['t', computeArrayStats([1])]]));
  assert.equal((await cache.get(key1)).size, 1);
  fs.writeFileSync(input, Buffer.from([2, 2]));
  fs.utimesSync(input, new Date(2_000_000), new Date(2_000_000));
  const key2 = (await StatsCache.keyFor(input))!;
  assert.equal(key2.size, key1.size);
  assert.equal((await cache.get(key2)).size, 0);
});

test('errors are not cached', async () => {
  const dir = makeTempDir('weightscope-cache-');
  const input = writeInput(dir, 'w.bin', [5]);
  const cache = new StatsCache();
  const pool = countingPool();
  await analyzeFileCached(pool, cache, input, ['broken', 'ok']);
  await analyzeFileCached(pool, cache, input, ['broken', 'ok']);
  assert.deepEqual(pool.calls, [['broken', 'ok'], ['broken']]);
});

test('the disk cache lives in the given folder, is written atomically and survives a new cache object', async () => {
  const dir = makeTempDir('weightscope-cache-');
  const inputDir = path.join(dir, 'input');
  fs.mkdirSync(inputDir);
  const input = writeInput(inputDir, 'w.bin', [3, 1, 4, 1, 5]);
  const cacheDir = path.join(dir, 'cache', 'stats');
  const pool = countingPool();
  await analyzeFileCached(pool, new StatsCache({ cacheDir }), input, ['x']);
  assert.deepEqual(fs.readdirSync(inputDir), ['w.bin'], 'nothing written next to the input');
  const files = fs.readdirSync(cacheDir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^[0-9a-f]{32}\.json$/, 'no temporary files left');
  const fresh = new StatsCache({ cacheDir });
  const again = await analyzeFileCached(pool, fresh, input, ['x']);
  assert.equal(pool.calls.length, 1, 'served from disk');
  const r = again.get('x')!;
  assert.ok(r.ok && r.stats.max === 5);
  // A damaged entry is a miss, not an error.
  fs.writeFileSync(path.join(cacheDir, files[0]!), '{"version": 1, "key": ');
  const damaged = new StatsCache({ cacheDir });
  await analyzeFileCached(pool, damaged, input, ['x']);
  assert.equal(pool.calls.length, 2);
});

test('a cache folder that cannot be made or written is a WeightFileError at the first lookup, before any analysis', async () => {
  const dir = makeTempDir('weightscope-cache-bad-');
  const input = writeInput(dir, 'w.bin', [3, 1, 4]);
  const aFile = writeInput(dir, 'cfile', [1]);
  const cases: [string, string, string][] = [
    [aFile, 'notFound', `${aFile}: cannot create the folder: a file of that name is in the way.`],
    [path.join(aFile, 'x'), 'notFound', `${path.join(aFile, 'x')}: cannot create the folder: a part of its path is not a folder.`],
  ];
  for (const [cacheDir, reason, message] of cases) {
    const pool = countingPool();
    await assert.rejects(analyzeFileCached(pool, new StatsCache({ cacheDir }), input, ['x']), { reason, message }, cacheDir);
    assert.equal(pool.calls.length, 0, 'nothing analysed');
  }
  // An existing folder without write permission (root writes anyway, so access() is made to say no).
  const ro = path.join(dir, 'ro');
  fs.mkdirSync(ro);
  const access = fs.promises.access;
  fs.promises.access = (p, mode) => (p === ro ? Promise.reject(errnoError('EACCES', 'access', ro)) : access(p, mode));
  try {
    await assert.rejects(analyzeFileCached(countingPool(), new StatsCache({ cacheDir: ro }), input, ['x']), {
      reason: 'permissionDenied',
      message: `${ro}: cannot write to the cache folder: permission denied.`,
    });
  } finally {
    fs.promises.access = access;
  }
});

// mkdir -p in Node.js retries a folder under /proc forever at full CPU: run in a child that is killed when it hangs.
test('inspect --cache in a folder that takes no new folders exits 2 with one line, at once', { skip: fs.existsSync('/proc/self') ? false : 'no /proc' }, () => {
  const example = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform', 'model.json');
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), 'inspect', example, '--cache', '/proc/weightscope-nope/stats'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, 'did not hang');
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, 'error[permissionDenied]: /proc/weightscope-nope: cannot create the folder: its parent takes no new folders.\n');
});

test('a disk write that fails after the folder was checked only costs the disk copy', async () => {
  const dir = makeTempDir('weightscope-cache-late-');
  const input = writeInput(dir, 'w.bin', [3, 1, 4]);
  const cacheDir = path.join(dir, 'cache');
  const cache = new StatsCache({ cacheDir });
  const pool = countingPool();
  const undo = failFsCall('writeFile', cacheDir, 'ENOSPC');
  try {
    const r = await analyzeFileCached(pool, cache, input, ['x']);
    assert.ok(r.get('x')?.ok);
  } finally {
    undo();
  }
  assert.equal(cache.counters.diskWrites, 0);
  assert.deepEqual(fs.readdirSync(cacheDir), [], 'no temporary files left');
  await analyzeFileCached(pool, cache, input, ['x']);
  assert.equal(pool.calls.length, 1, 'still served from memory');
});

test('memory is an LRU over files', async () => {
  const dir = makeTempDir('weightscope-cache-');
  const a = (await StatsCache.keyFor(writeInput(dir, 'a.bin', [1])))!;
  const b = (await StatsCache.keyFor(writeInput(dir, 'b.bin', [2])))!;
  const c = (await StatsCache.keyFor(writeInput(dir, 'c.bin', [3])))!;
  const cache = new StatsCache({ maxFiles: 2 });
  const s = new Map([['t', computeArrayStats([1])]]);
  await cache.put(a, s);
  await cache.put(b, s);
  await cache.get(a); // a is now the most recent
  await cache.put(c, s); // evicts b
  assert.equal((await cache.get(a)).size, 1);
  assert.equal((await cache.get(c)).size, 1);
  assert.equal((await cache.get(b)).size, 0);
});

test('fingerprints are cached per file version whatever the bins, with the model, and survive on disk', async () => {
  const dir = makeTempDir('weightscope-cache-');
  const input = writeInput(dir, 'w.bin', [7, 7, 7]);
  const cacheDir = path.join(dir, 'cache');
  const cache = new StatsCache({ cacheDir });
  const key64 = (await StatsCache.keyFor(input, 64))!;
  const key10 = (await StatsCache.keyFor(input, 10))!;
  const fp = (c: string): string => c.repeat(64);
  await cache.put(key64, new Map([['t', computeArrayStats([1, 2])]]));
  await cache.putFingerprints(key64, new Map([['t', fp('1')], ['bad', 'not-hex']]), { model: fp('9'), modelTensorCount: 1, partial: false });
  assert.deepEqual([...(await cache.getFingerprints(key10))], [['t', fp('1')]], 'bins do not matter; malformed values are dropped');
  assert.equal((await cache.get(key64)).size, 1, 'the stats entry is untouched');
  const fresh = new StatsCache({ cacheDir });
  assert.deepEqual(await fresh.getModelFingerprint(key64), { model: fp('9'), modelTensorCount: 1, partial: false });
  assert.equal((await fresh.get(key64)).get('t')?.max, 2);
  assert.equal(fs.readdirSync(cacheDir).length, 2, 'one stats entry and one fingerprint entry');
  // Clearing removes both entries.
  assert.equal(await fresh.clear(), 2);
  assert.equal((await new StatsCache({ cacheDir }).getFingerprints(key64)).size, 0);
});

test('an entry written before fingerprints were cached (no fingerprints field) still serves its stats', async () => {
  const dir = makeTempDir('weightscope-cache-');
  const input = writeInput(dir, 'w.bin', [1, 2]);
  const cacheDir = path.join(dir, 'cache');
  const pool = countingPool();
  await analyzeFileCached(pool, new StatsCache({ cacheDir }), input, ['x']);
  const [name] = fs.readdirSync(cacheDir);
  const entry = JSON.parse(fs.readFileSync(path.join(cacheDir, name!), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(entry).sort(), ['key', 'tensors', 'version'], 'a stats entry has exactly the version-1 fields');
  const cache = new StatsCache({ cacheDir });
  await analyzeFileCached(pool, cache, input, ['x']);
  assert.equal(pool.calls.length, 1, 'served from the older entry');
  assert.deepEqual(cache.counters, { statsHits: 1, statsMisses: 0, fingerprintHits: 0, diskWrites: 0 });
});

test('fingerprintFileCached: computed once, then served without running; a changed shard is a miss', async () => {
  const dir = makeTempDir('weightscope-cache-');
  const modelDir = path.join(dir, 'model');
  fs.mkdirSync(modelDir);
  const examples = path.join(__dirname, '..', '..', '..', '..', 'examples', 'initialization', 'good-init-glorot-uniform');
  for (const f of ['model.json', 'weights.bin']) {
    fs.writeFileSync(path.join(modelDir, f), fs.readFileSync(path.join(examples, f)));
  }
  const entry = path.join(modelDir, 'model.json');
  const cache = new StatsCache({ cacheDir: path.join(dir, 'cache') });
  const runs: number[] = [];
  const run: FingerprintRunner = async (known) => {
    runs.push(known.size);
    const file = await openLocalPath(entry);
    try {
      return await fingerprintFile(file, { known });
    } finally {
      await file.close();
    }
  };
  const first = await fingerprintFileCached(run, cache, entry);
  assert.deepEqual(runs, [0]);
  assert.equal(first.fromCache, 0);
  const file = await openLocalPath(entry);
  let infos;
  try {
    infos = file.tensors.map((t) => ({ name: t.name, group: t.group, dtype: t.dtype, unavailable: t.unavailable }));
  } finally {
    await file.close();
  }
  const seen: string[] = [];
  const second = await fingerprintFileCached(run, cache, entry, { tensors: infos, onTensor: (t) => seen.push(t.name) });
  assert.deepEqual(runs, [0], 'every tensor known: nothing is run');
  assert.equal(second.model, first.model);
  assert.equal(second.fromCache, 6);
  assert.equal(seen.length, 6);
  assert.equal((await cache.getModelFingerprint((await StatsCache.keyFor(entry))!))?.model, first.model);
  // Rewrite the weights shard (same size, later mtime): model.json is unchanged but the key is not.
  const bytes = fs.readFileSync(path.join(modelDir, 'weights.bin'));
  bytes[0] = bytes[0]! ^ 0xff;
  fs.writeFileSync(path.join(modelDir, 'weights.bin'), bytes);
  fs.utimesSync(path.join(modelDir, 'weights.bin'), new Date(), new Date(Date.now() + 5000));
  const third = await fingerprintFileCached(run, cache, entry, { tensors: infos });
  assert.deepEqual(runs, [0, 0], 'recomputed from scratch');
  assert.notEqual(third.model, first.model);
});

test('the key of a SavedModel folder covers saved_model.pb and every variables/ shard', async (t) => {
  const dir = fixtureOrSkip(t, 'tf-savedmodel/keras-lso-savedmodel-tf2.2');
  if (!dir) {
    return;
  }
  const key = (await StatsCache.keyFor(dir))!;
  const files = [path.join(dir, 'saved_model.pb'), ...fs.readdirSync(path.join(dir, 'variables')).map((f) => path.join(dir, 'variables', f))];
  assert.equal(files.length, 4, 'fixtures/README.md: saved_model.pb, variables.index and two data shards');
  assert.equal(key.size, files.reduce((s, f) => s + fs.statSync(f).size, 0));
  assert.equal(key.mtimeMs, Math.max(...files.map((f) => fs.statSync(f).mtimeMs)));
  assert.equal(key.path, path.resolve(dir));
});
