import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { brokenPipeExitCode, outJson } from '../../../src/cli/io';
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
