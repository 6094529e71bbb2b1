import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { brokenPipeExitCode } from '../../../src/cli/io';
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
