// `npm start`: builds the extension, then opens the examples workspace with Weightscope loaded:
// - in desktop VS Code (extension development mode) when `code` is on PATH;
// - else in a local web workbench (code-server 4.100.3, installed on first use into a cache folder
//   outside the repository, bound to 127.0.0.1), printing the URL to open. Ctrl+C stops it.
// Environment: WEIGHTSCOPE_PORT (default: first free port from 8080), WEIGHTSCOPE_START_WEB=1 forces the web workbench.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const workspace = path.join(root, 'examples');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    if (dir && fs.existsSync(p)) return p;
  }
  return undefined;
}

function freePort(start) {
  return new Promise((resolve, reject) => {
    const tryPort = (port) => {
      if (port > start + 100) return reject(new Error(`no free port between ${start} and ${start + 100}`));
      const srv = net.createServer();
      srv.once('error', () => tryPort(port + 1));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(port)));
    };
    tryPort(start);
  });
}

if (spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), '--dist-only'], { stdio: 'inherit' }).status !== 0) {
  process.exit(1);
}

const code = process.env.WEIGHTSCOPE_START_WEB ? undefined : which('code');
if (code) {
  console.log(`Opening ${path.relative(process.cwd(), workspace) || '.'} in VS Code with Weightscope in development mode.`);
  const r = spawnSync(code, ['--new-window', `--extensionDevelopmentPath=${root}`, workspace], { stdio: 'inherit' });
  process.exit(r.status ?? 0);
}

const { ensureCodeServer, PrerequisiteError } = await import('./e2e/setup.mjs');
let bin;
try {
  bin = ensureCodeServer();
} catch (ex) {
  console.error(ex instanceof Error ? ex.message : String(ex));
  console.error('npm start needs either desktop VS Code (`code` on PATH) or the packages above for the local web workbench.');
  process.exit(ex instanceof PrerequisiteError ? 3 : 1);
}

// A private user-data and extensions folder; the extension is linked in, not copied.
const state = path.join(os.homedir(), '.cache', 'weightscope-e2e', 'start');
const extensions = path.join(state, 'extensions');
fs.mkdirSync(extensions, { recursive: true });
const link = path.join(extensions, `${pkg.publisher}.${pkg.name}-${pkg.version}`);
fs.rmSync(link, { force: true, recursive: true });
fs.symlinkSync(root, link, 'dir');
const userDir = path.join(state, 'user-data', 'User');
fs.mkdirSync(userDir, { recursive: true });
const settings = path.join(userDir, 'settings.json');
if (!fs.existsSync(settings)) {
  fs.writeFileSync(settings, JSON.stringify({ 'telemetry.telemetryLevel': 'off', 'extensions.autoCheckUpdates': false, 'security.workspace.trust.enabled': false }, null, 2));
}
const port = process.env.WEIGHTSCOPE_PORT ? Number(process.env.WEIGHTSCOPE_PORT) : await freePort(8080);
const config = path.join(state, 'config.yaml');
fs.writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
const xdg = path.join(state, 'xdg');
fs.mkdirSync(xdg, { recursive: true });
const child = spawn(
  bin,
  ['--config', config, '--user-data-dir', path.join(state, 'user-data'), '--extensions-dir', extensions,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--ignore-last-opened', workspace],
  {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, EXTENSIONS_GALLERY: '{}', XDG_CONFIG_HOME: xdg, XDG_DATA_HOME: xdg, XDG_CACHE_HOME: xdg },
  },
);
const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`;
for (let i = 0; i < 100; i++) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    if (r.ok) break;
  } catch {
    // not listening yet
  }
  await new Promise((r) => setTimeout(r, 200));
}
console.log(`\nWeightscope is running in a local VS Code workbench. Open:\n\n  ${url}\n\nPress Ctrl+C to stop.`);
const stop = () => child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (c) => process.exit(c ?? 0));
