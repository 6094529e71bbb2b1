import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../../src/cli/main';
import { captureIo } from '../helpers/captureIo';
import { repoRoot } from '../helpers/fixtures';

const commandNames = ['inspect', 'check', 'diff', 'history', 'fingerprint', 'probe', 'train'];

test("-h and --help anywhere in a command's arguments, and 'help <command>', print that command's help", async () => {
  for (const name of commandNames) {
    for (const argv of [[name, '-h'], [name, '--help'], [name, 'some-file', '-h'], [name, 'some-file', '--bogus', '--help'], ['help', name]]) {
      const io = captureIo();
      assert.equal(await runCli(argv, io), 0, argv.join(' '));
      assert.deepEqual(io.stderr, [], argv.join(' '));
      assert.ok(io.stdout.join('\n').startsWith(`weightscope ${name} <`), `${argv.join(' ')} prints the ${name} help`);
    }
  }
  // After '--' a '-h' is an argument, not a request for help.
  const io = captureIo();
  assert.equal(await runCli(['inspect', '--', '-h'], io), 2);
  assert.match(io.stderr[0]!, /^error\[notFound\]: -h/);
  const top = captureIo();
  assert.equal(await runCli(['help'], top), 0);
  assert.match(top.stdout.join('\n'), /^weightscope: /);
});

test('a usage error is one error[usage] line and one line pointing to the help', async () => {
  const cases: [string[], string][] = [
    [['inspect'], "Run 'weightscope inspect --help' for its options."],
    [['inspect', 'a', '--bogus'], "Run 'weightscope inspect --help' for its options."],
    [['diff', 'a', 'b', '--top', '1e1'], "Run 'weightscope diff --help' for its options."],
    [['nosuchcommand'], "Run 'weightscope --help' for the commands."],
    [['toString'], "Run 'weightscope --help' for the commands."],
    [['help', 'nosuchcommand'], "Run 'weightscope --help' for the commands."],
    [[], "Run 'weightscope --help' for the commands."],
  ];
  for (const [argv, hint] of cases) {
    const io = captureIo();
    assert.equal(await runCli(argv, io), 2, argv.join(' '));
    assert.equal(io.stdout.length, 0, argv.join(' '));
    assert.equal(io.stderr.length, 2, `${argv.join(' ')}: ${io.stderr.join(' | ')}`);
    assert.match(io.stderr[0]!, /^error\[usage\]: .+\.$/);
    assert.equal(io.stderr[1], hint);
  }
});

test('an internal error suggests WEIGHTSCOPE_VERBOSE=1 only when it is not set', async () => {
  const file = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');
  const failingIo = (): ReturnType<typeof captureIo> => ({ ...captureIo(), out: () => { throw new Error('boom'); } });
  const saved = process.env['WEIGHTSCOPE_VERBOSE'];
  try {
    delete process.env['WEIGHTSCOPE_VERBOSE'];
    const quiet = failingIo();
    assert.equal(await runCli(['inspect', file, '--no-stats'], quiet), 1);
    assert.deepEqual(quiet.stderr, ['internal error: boom', 'This is a bug in Weightscope; set WEIGHTSCOPE_VERBOSE=1 for the stack trace.']);
    process.env['WEIGHTSCOPE_VERBOSE'] = '1';
    const verbose = failingIo();
    assert.equal(await runCli(['inspect', file, '--no-stats'], verbose), 1);
    assert.match(verbose.stderr[0]!, /^internal error: Error: boom\n {4}at /);
    assert.ok(!verbose.stderr.join('\n').includes('WEIGHTSCOPE_VERBOSE'), verbose.stderr.join('\n'));
  } finally {
    if (saved === undefined) {
      delete process.env['WEIGHTSCOPE_VERBOSE'];
    } else {
      process.env['WEIGHTSCOPE_VERBOSE'] = saved;
    }
  }
});

test("every option a command's parser accepts is in its --help and in the README's command table, with the same arguments", async () => {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  for (const name of commandNames) {
    // The options the command's parser accepts: its `const spec = { ... } as const` declaration.
    const source = fs.readFileSync(path.join(repoRoot, 'src', 'cli', 'commands', `${name}.ts`), 'utf8');
    const specs = [...source.matchAll(/const spec = \{([^}]*)\} as const;/g)];
    assert.equal(specs.length, 1, `${name}.ts declares one option spec`);
    const options = [...specs[0]![1]!.matchAll(/'?([a-z][a-z-]*)'?\s*:/g)].map((m) => m[1]!).filter((o) => o !== 'help');
    assert.ok(options.length > 0, name);
    const io = captureIo();
    assert.equal(await runCli([name, '--help'], io), 0);
    const help = io.stdout.join('\n');
    const row = readme.split('\n').find((l) => l.startsWith(`| \`weightscope ${name} `));
    assert.ok(row, `the README lists ${name}`);
    const synopsis = row.split('`')[1]!;
    assert.ok(synopsis.startsWith(help.split('\n')[0]!.replace(/ \[options\]$/, '')), `${name}: README '${synopsis}' vs help '${help.split('\n')[0]}'`);
    for (const option of options) {
      const mention = new RegExp(`--${option}(?![\\w-])`);
      assert.match(help, mention, `${name} --help mentions --${option}`);
      assert.match(synopsis, mention, `the README's ${name} row mentions --${option}`);
    }
  }
  const top = captureIo();
  assert.equal(await runCli(['--help'], top), 0);
  for (const code of ['0', '1', '2', '3', '4', '130', '141']) {
    assert.match(top.stdout.join('\n'), new RegExp(`[ ;]${code} `), `the top-level help explains exit code ${code}`);
    assert.match(readme, new RegExp(`\`${code}\``), `the README explains exit code ${code}`);
  }
  assert.match(top.stdout.join('\n'), /--version/);
});

test('--version and -v print package.json\'s version, in the transpiled sources and in the shipped bundle', async () => {
  const version = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  for (const flag of ['--version', '-v']) {
    const io = captureIo();
    assert.equal(await runCli([flag], io), 0);
    assert.deepEqual(io.stdout, [version], flag);
  }
  const bundle = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), '--version'], { encoding: 'utf8' });
  assert.equal(bundle.status, 0, bundle.stderr);
  assert.equal(bundle.stdout, `${version}\n`);
});
