import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { checkFailedExitCode } from '../../../src/cli/commands/check';
import { runCli } from '../../../src/cli/main';
import { captureIo } from '../helpers/captureIo';
import { makeTempDir, repoRoot } from '../helpers/fixtures';

// A model that opens but none (or only some) of whose tensors can be read is not a healthy model:
// inspect and fingerprint exit 2 with an error line, check reports an error diagnostic.

const example = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');
/** The manifest's weights in order, read independently of the readers. */
const manifest = (JSON.parse(fs.readFileSync(path.join(example, 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string; shape: number[] }[] }[] }).weightsManifest.flatMap((g) => g.weights);

/** Bytes of the first layer's kernel and bias (float32), the first two tensors of the shard. */
const firstLayerBytes = 4 * manifest.slice(0, 2).reduce((sum, w) => sum + w.shape.reduce((x, y) => x * y, 1), 0);

/** A copy of the example model in a folder of its own: its weights.bin whole, cut to `bytes`, or absent (null). */
function modelCopy(dir: string, name: string, bytes: number | null | 'whole'): string {
  const folder = path.join(dir, name);
  fs.mkdirSync(folder);
  fs.copyFileSync(path.join(example, 'model.json'), path.join(folder, 'model.json'));
  if (bytes !== null) {
    const data = fs.readFileSync(path.join(example, 'weights.bin'));
    fs.writeFileSync(path.join(folder, 'weights.bin'), bytes === 'whole' ? data : data.subarray(0, bytes));
  }
  return path.join(folder, 'model.json');
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string[] }> {
  const io = captureIo();
  const code = await runCli(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr };
}

test('a model whose every tensor is in a missing shard: inspect prints the report and exits 2 with one error line, in a folder too', async () => {
  const dir = makeTempDir('weightscope-unreadable-');
  const broken = modelCopy(dir, 'noshard', null);
  modelCopy(dir, 'good', 'whole');
  const first = manifest[0]!.name;
  const line = `error[missingCompanionFile]: ${broken}: could not read any of its ${manifest.length} tensors (the first: weight '${first}' is stored in the missing shard 'weights.bin').`;
  for (const extra of [[], ['--json'], ['--no-stats'], ['--workers', '0']]) {
    const r = await run(['inspect', broken, ...extra]);
    assert.equal(r.code, 2, extra.join(' '));
    assert.deepEqual(r.err, [line], extra.join(' '));
    if (extra[0] === '--json') {
      const report = JSON.parse(r.out) as { tensors: { name: string; error?: { reason: string } }[] };
      assert.deepEqual(report.tensors.map((t) => [t.name, t.error?.reason]), manifest.map((w) => [w.name, 'missingCompanionFile']));
    } else {
      assert.match(r.out, /^ {2}kernel +\[784,128\] .*error\[missingCompanionFile\]$/m, 'the table is printed');
    }
  }
  // In a folder the other model is still reported, and the exit code says one was unreadable.
  for (const extra of [[], ['--json']]) {
    const r = await run(['inspect', dir, ...extra]);
    assert.equal(r.code, 2, extra.join(' '));
    assert.deepEqual(r.err, [line], extra.join(' '));
    if (extra[0] === '--json') {
      assert.deepEqual((JSON.parse(r.out) as { path: string }[]).map((p) => path.basename(path.dirname(p.path))).sort(), ['good', 'noshard']);
    }
  }
  // A --tensor filter counts the tensors it selects.
  const one = await run(['inspect', broken, '--tensor', first]);
  assert.equal(one.code, 2);
  assert.deepEqual(one.err, [`error[missingCompanionFile]: ${broken}: could not read its one tensor (weight '${first}' is stored in the missing shard 'weights.bin').`]);
});

test('check reports unreadable tensors as an error diagnostic; a model none of whose tensors can be read then exits 2 with its error line, as inspect does; partly readable models still get the other checks and --fail-on error gates on them', async () => {
  const dir = makeTempDir('weightscope-unreadable-check-');
  const broken = modelCopy(dir, 'noshard', null);
  const line = `error[missingCompanionFile]: ${broken}: could not read any of its ${manifest.length} tensors (the first: weight '${manifest[0]!.name}' is stored in the missing shard 'weights.bin').`;
  for (const extra of [[], ['--fail-on', 'error']]) {
    const text = await run(['check', broken, '--no-precision', ...extra]);
    assert.equal(text.code, 2, extra.join(' '));
    assert.deepEqual(text.err, [line]);
    assert.match(text.out, /^error\[unreadable-tensors\]: None of the/m, 'the report comes first');
  }
  const r = await run(['check', broken, '--json', '--fail-on', 'error', '--no-precision']);
  assert.equal(r.code, 2, r.err.join('\n'));
  assert.deepEqual(r.err, [line]);
  const report = JSON.parse(r.out) as { diagnostics: { code: string; severity: string; message: string; evidence: Record<string, unknown> }[]; failures: unknown[] };
  assert.deepEqual(report.diagnostics[0], {
    severity: 'error',
    code: 'unreadable-tensors',
    message: `None of the ${manifest.length} tensors could be read (the first, '${manifest[0]!.name}': missingCompanionFile); the other checks ran without them.`,
    evidence: { failedTensors: manifest.length, tensors: manifest.length, firstTensor: manifest[0]!.name, firstReason: 'missingCompanionFile' },
  });
  assert.equal(report.failures.length, manifest.length);
  // The shard cut after the first layer's two tensors: the four others cannot be read.
  const k = manifest[0]!;
  const cut = modelCopy(dir, 'cut', firstLayerBytes);
  const partial = await run(['check', cut, '--json', '--fail-on', 'error', '--no-precision']);
  assert.equal(partial.code, checkFailedExitCode, partial.err.join('\n'));
  const p = JSON.parse(partial.out) as typeof report;
  assert.deepEqual(
    p.diagnostics.filter((d) => d.code === 'unreadable-tensors').map((d) => [d.evidence['failedTensors'], d.evidence['tensors'], d.evidence['firstTensor']]),
    [[manifest.length - 2, manifest.length, manifest[2]!.name]],
  );
  assert.ok(p.diagnostics.some((d) => d.code === 'initializer-match' && d.message.includes(k.name)), 'the readable kernel is still checked');
  // inspect of the partly readable model shows what it can and exits 0.
  const shown = await run(['inspect', cut, '--json']);
  assert.equal(shown.code, 0, shown.err.join('\n'));
  assert.deepEqual(
    (JSON.parse(shown.out) as { tensors: { error?: unknown }[] }).tensors.map((t) => t.error === undefined),
    manifest.map((_, i) => i < 2),
  );
});

test('fingerprint: a model with no readable tensor is an error line (not the fingerprint of nothing); a partial one is listed but not saved', async () => {
  const dir = makeTempDir('weightscope-unreadable-fp-');
  const broken = modelCopy(dir, 'noshard', null);
  const good = modelCopy(dir, 'good', 'whole');
  const r = await run(['fingerprint', broken, good, '--json']);
  assert.equal(r.code, 2);
  assert.deepEqual(r.err, [`error[missingCompanionFile]: ${broken}: could not read any of its ${manifest.length} tensors (the first: weight '${manifest[0]!.name}' is stored in the missing shard 'weights.bin').`]);
  assert.deepEqual((JSON.parse(r.out) as { files: { path: string }[] }).files.map((f) => f.path), [good]);
  const cut = modelCopy(dir, 'cut', firstLayerBytes);
  const partial = await run(['fingerprint', cut, '--save']);
  assert.equal(partial.code, 0, partial.err.join('\n'));
  assert.match(partial.out, /^[0-9a-f]{64} {2}.*\(partial: some tensors unreadable\)$/);
  assert.deepEqual(fs.readdirSync(path.dirname(cut)).sort(), ['model.json', 'weights.bin'], 'no sidecar holds a partial fingerprint');
});

test('diff against a model none of whose tensors can be read prints the comparison, then that side\'s error, and exits 2', async () => {
  const dir = makeTempDir('weightscope-unreadable-diff-');
  const broken = modelCopy(dir, 'noshard', null);
  const good = modelCopy(dir, 'good', 'whole');
  const line = `error[missingCompanionFile]: ${broken}: could not read any of its ${manifest.length} tensors (the first: weight '${manifest[0]!.name}' is stored in the missing shard 'weights.bin').`;
  for (const argv of [['diff', good, broken, '--json'], ['diff', broken, good]]) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.deepEqual(r.err, [line], argv.join(' '));
    assert.ok(r.out.length > 0, 'the comparison is still printed');
  }
  const json = await run(['diff', good, broken, '--json']);
  const result = JSON.parse(json.out) as { a: { unreadable?: unknown }; b: { unreadable?: { reason: string } }; summary: { relL2: number | null } };
  assert.equal(result.a.unreadable, undefined);
  assert.equal(result.b.unreadable?.reason, 'missingCompanionFile');
  assert.equal(result.summary.relL2, null);
  assert.equal((await run(['diff', good, good])).code, 0);
});
