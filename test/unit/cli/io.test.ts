import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { brokenPipeExitCode, outJson, outJsonStreamed, StreamedArray } from '../../../src/cli/io';
import { repoRoot } from '../helpers/fixtures';

test('when the reader of stdout goes away (| head -1), the CLI output stops quietly with exit code 141', async () => {
  // A process that prints through processIo without end, like `inspect <big folder>`.
  const io = path.join(repoRoot, 'out', 'src', 'cli', 'io.js');
  const script = [
    `const io = require(${JSON.stringify(io)}).processIo();`,
    'let i = 0;',
    'const tick = () => { for (let k = 0; k < 100; k++) io.out(`line ${i++}`); setImmediate(tick); };',
    'tick();',
  ].join('\n');
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const timer = setTimeout(() => child.kill(), 30_000);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.once('data', () => child.stdout.destroy());
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  assert.equal(signal, null, 'it ended by itself');
  assert.equal(brokenPipeExitCode, 128 + 13, '128 + SIGPIPE');
  assert.equal(code, brokenPipeExitCode, stderr);
  assert.equal(stderr, '');
});

test('outJson prints what JSON.stringify(value, null, 2) does, in pieces of whole lines', () => {
  const weird = { toJSON: () => ({ as: 'json' }) };
  const values: unknown[] = [
    [],
    {},
    null,
    'one\nline',
    [1, undefined, () => 1, { a: undefined, b: [], c: {}, d: 'x\ny', e: [[1, [2, { f: null }]]] }],
    { weird, list: [weird, new Date(0), -0, 1e21, 5e-324], '2': 'integer keys first', z: { deep: { deeper: { deepest: [1, 2] } } } },
    Array.from({ length: 30_000 }, (_, i) => ({ name: `t${i}`, stats: { histogram: { counts: [i, i + 1], edges: [0.5, 1.5, 2.5] } } })),
  ];
  for (const value of values) {
    for (const depth of [undefined, 0, 1, 2, 4, 6]) {
      const pieces: string[] = [];
      outJson({ out: (t) => pieces.push(t) }, value, depth);
      assert.equal(pieces.map((p) => `${p}\n`).join(''), `${JSON.stringify(value, null, 2)}\n`, `depth ${depth}`);
    }
  }
  // A large value is never one string: each piece stays near a megabyte.
  const pieces: string[] = [];
  outJson({ out: (t) => pieces.push(t) }, values[values.length - 1]);
  assert.ok(pieces.length > 1, `${pieces.length} piece(s)`);
  assert.ok(pieces.every((p) => p.length < 2 * 2 ** 20));
});

/** Every piece an io's outBytes received, as one UTF-8 string. */
function bytesIo(): { io: { out: (t: string) => void; outBytes: (b: Uint8Array) => void }; text: () => string; chunks: number[] } {
  const chunks: Buffer[] = [];
  return {
    io: {
      out: () => assert.fail('with outBytes, nothing goes through out'),
      outBytes: (b) => chunks.push(Buffer.from(b)),
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
    chunks: chunks.map((c) => c.length),
  };
}

test('outJson through outBytes writes the UTF-8 of JSON.stringify(value, null, 2), non-ASCII and members larger than a piece included', () => {
  const big = 'é€𝄞x'.repeat(200_000);
  const values: unknown[] = [
    [],
    { name: 'café/ß', emoji: '𝄞', list: [1, -0, 5e-324, 'ü'] },
    { tensors: [{ name: big, stats: { edges: [0.1, 0.2] } }, { name: 'after' }], tail: 'end' },
    Array.from({ length: 20_000 }, (_, i) => ({ name: `naïve${i}`, counts: [i, i / 3] })),
  ];
  for (const value of values) {
    for (const depth of [0, 1, 2, 3]) {
      const sink = bytesIo();
      outJson(sink.io, value, depth);
      assert.equal(sink.text(), `${JSON.stringify(value, null, 2)}\n`, `depth ${depth}`);
    }
  }
});

/** An async iterable of `members`, each after a pause, that throws `failAt` members in (when given). */
async function* later<T>(members: readonly T[], failAt?: number): AsyncGenerator<T> {
  for (let i = 0; i < members.length; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (i === failAt) {
      throw new Error(`member ${i} failed`);
    }
    yield members[i]!;
  }
  if (failAt === members.length) {
    throw new Error('the end failed');
  }
}

test('outJsonStreamed prints what outJson prints for the arrays its StreamedArrays stand for, through out and outBytes', async () => {
  const tensors = Array.from({ length: 3000 }, (_, i) => ({ name: `t${i}·`, stats: i % 7 === 0 ? null : { mean: i / 7, histogram: { counts: [i, 1], edges: [-0.5, 0, 0.5] } } }));
  const report = (n: number) => ({ schemaVersion: 1, path: `r${n}`, tensors: tensors.slice(0, n), layers: [{ name: 'l', tensors: ['t1'] }] });
  const streamedReport = (n: number) => ({ ...report(n), tensors: new StreamedArray(later(tensors.slice(0, n))) });
  const cases: [unknown, () => unknown, number][] = [
    [report(3000), () => streamedReport(3000), 2],
    [report(1), () => streamedReport(1), 2],
    [report(0), () => streamedReport(0), 2],
    [[report(2), report(0), report(5)], () => new StreamedArray(later([streamedReport(2), streamedReport(0), streamedReport(5)])), 3],
    [[], () => new StreamedArray(later([])), 3],
    [[report(4)], () => [streamedReport(4)], 3],
  ];
  for (const [plain, streamed, depth] of cases) {
    const expected = `${JSON.stringify(plain, null, 2)}\n`;
    const pieces: string[] = [];
    await outJsonStreamed({ out: (t) => pieces.push(t) }, streamed(), depth);
    assert.equal(pieces.map((p) => `${p}\n`).join(''), expected);
    const sink = bytesIo();
    await outJsonStreamed(sink.io, streamed(), depth);
    assert.equal(sink.text(), expected);
  }
});

test('outJsonStreamed: a member that fails ends the output with its error; failing before the first member prints nothing', async () => {
  const out: string[] = [];
  await assert.rejects(outJsonStreamed({ out: (t) => out.push(t) }, { a: 1, list: new StreamedArray(later([1, 2], 0)) }), /member 0 failed/);
  assert.equal(out.length, 0, out.join('\n'));
  await assert.rejects(outJsonStreamed({ out: (t) => out.push(t) }, new StreamedArray(later([], 0))), /the end failed/);
  assert.equal(out.length, 0, out.join('\n'));
  await assert.rejects(outJsonStreamed({ out: (t) => out.push(t) }, new StreamedArray(later([{ x: 1 }], 1))), /the end failed/);
  // A StreamedArray deeper than the levels written member by member is a bug, said so.
  assert.throws(() => outJson({ out: () => undefined }, { a: new StreamedArray(later([])) }, 1), /deeper than the levels/);
});
