// Installs the real VS Code workbench used by the integration and e2e tests: code-server 4.100.3
// (VS Code 1.100.3, the newest release that runs on Node 20) into a versioned cache folder outside
// the repository. Idempotent: a complete install is detected and reused. Fails with a message that
// names the missing prerequisite and the apt command that provides it.
//   node scripts/e2e/setup.mjs            install (or reuse) and print the code-server path
// Environment: WEIGHTSCOPE_E2E_CACHE overrides the cache root (default ~/.cache/weightscope-e2e).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** code-server release pinned for Node 20 (4.103 and later need Node 22). */
export const codeServerVersion = '4.100.3';
/** @vscode/ripgrep version inside that code-server and the archive name its postinstall looks for. */
const ripgrepPackageVersion = '1.15.11';
const ripgrepArchive = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';
/** The browser the tests drive (Debian's package; Playwright's own downloads are not used). */
export const chromiumPath = process.env.WEIGHTSCOPE_CHROMIUM ?? '/usr/bin/chromium';

const aptPackages = 'build-essential python3 libkrb5-dev ripgrep chromium fonts-liberation';

/** Cache folder of this code-server version. */
export function codeServerPrefix() {
  const root = process.env.WEIGHTSCOPE_E2E_CACHE ?? path.join(os.homedir(), '.cache', 'weightscope-e2e');
  return path.join(root, `code-server-${codeServerVersion}`);
}

/** Thrown for a missing machine prerequisite; the message says how to install it. */
export class PrerequisiteError extends Error {}

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not in this PATH entry
    }
  }
  return undefined;
}

/** Checks the machine prerequisites; throws a PrerequisiteError naming each missing one. */
export function checkPrerequisites() {
  const missing = [];
  if (!fs.existsSync(chromiumPath)) missing.push(`Chromium at ${chromiumPath} (Debian package 'chromium')`);
  if (!which('rg')) missing.push(`ripgrep 'rg' on PATH (Debian package 'ripgrep'; seeded into @vscode/ripgrep, which cannot download offline)`);
  if (!fs.existsSync('/usr/include/gssapi/gssapi.h')) missing.push(`the Kerberos headers /usr/include/gssapi/gssapi.h (Debian package 'libkrb5-dev', needed by code-server's 'kerberos' module)`);
  if (!which('make') || !which('g++')) missing.push(`a C/C++ tool chain: make and g++ (Debian package 'build-essential', for node-pty, spdlog and kerberos)`);
  if (!which('python3')) missing.push(`python3 (Debian package 'python3', used by node-gyp)`);
  if (!fs.existsSync('/usr/share/fonts/truetype/liberation') && !fs.existsSync('/usr/share/fonts/truetype/liberation2')) {
    missing.push(`fonts for the headless browser (Debian package 'fonts-liberation')`);
  }
  const nodeHeaders = path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node', 'node.h');
  if (!fs.existsSync(nodeHeaders)) missing.push(`the Node.js headers at ${nodeHeaders} (node-gyp would try to download them): use a Node install that ships include/node`);
  if (Number(process.versions.node.split('.')[0]) < 20) missing.push(`Node.js 20 or newer (running ${process.version})`);
  if (missing.length) {
    throw new PrerequisiteError(
      `e2e setup: missing prerequisite${missing.length > 1 ? 's' : ''}:\n  - ${missing.join('\n  - ')}\n` +
        `Install them with: apt-get update && apt-get install -y --no-install-recommends ${aptPackages}`,
    );
  }
}

/** Native parts that must exist after a complete install, relative to the prefix. */
function installedFiles(prefix) {
  const lib = path.join(prefix, 'node_modules', 'code-server', 'lib', 'vscode');
  return {
    bin: path.join(prefix, 'node_modules', '.bin', 'code-server'),
    pty: path.join(lib, 'node_modules', 'node-pty', 'build', 'Release', 'pty.node'),
    spdlog: path.join(lib, 'node_modules', '@vscode', 'spdlog', 'build', 'Release', 'spdlog.node'),
    kerberos: path.join(lib, 'node_modules', 'kerberos', 'build', 'Release', 'kerberos.node'),
    rg: path.join(lib, 'node_modules', '@vscode', 'ripgrep', 'bin', 'rg'),
  };
}

function missingInstalledFiles(prefix) {
  return Object.entries(installedFiles(prefix))
    .filter(([, p]) => !fs.existsSync(p))
    .map(([k, p]) => `${k}: ${p}`);
}

/** Puts Debian's rg where @vscode/ripgrep's postinstall looks before it tries GitHub. */
function seedRipgrepCache() {
  const dir = path.join(os.tmpdir(), `vscode-ripgrep-cache-${ripgrepPackageVersion}`);
  const archive = path.join(dir, ripgrepArchive);
  if (fs.existsSync(archive)) return;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-rg-'));
  try {
    fs.copyFileSync(which('rg'), path.join(tmp, 'rg'));
    fs.chmodSync(path.join(tmp, 'rg'), 0o755);
    const r = spawnSync('tar', ['-czf', `${archive}.part`, '-C', tmp, 'rg'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`e2e setup: could not create ${archive}`);
    fs.renameSync(`${archive}.part`, archive);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Makes sure code-server is installed and returns the path of its launcher. Prints progress to
 * stderr. Throws PrerequisiteError or Error with a clear message.
 */
export function ensureCodeServer({ quiet = false } = {}) {
  checkPrerequisites();
  const prefix = codeServerPrefix();
  const bin = installedFiles(prefix).bin;
  if (missingInstalledFiles(prefix).length === 0 && fs.existsSync(path.join(prefix, '.complete'))) {
    return bin;
  }
  const log = (m) => quiet || process.stderr.write(`${m}\n`);
  log(`e2e setup: installing code-server ${codeServerVersion} into ${prefix} (about a minute; cached afterwards)`);
  seedRipgrepCache();
  fs.mkdirSync(prefix, { recursive: true });
  fs.writeFileSync(path.join(prefix, 'package.json'), '{"name":"code-server-host","private":true}\n');
  const npm = which('npm');
  if (!npm) throw new PrerequisiteError('e2e setup: npm is not on PATH.');
  const env = {
    ...process.env,
    // code-server's postinstall refuses root without this; npm 11 warns "Unknown env config", harmless.
    npm_config_unsafe_perm: 'true',
    // node-pty's postinstall runs `npx node-gyp` without a TTY.
    npm_config_yes: 'true',
    // keep install scripts running in the nested installs of lib/vscode and lib/vscode/extensions.
    npm_config_dangerously_allow_all_scripts: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  };
  const r = spawnSync(npm, ['install', '--no-audit', '--no-fund', `code-server@${codeServerVersion}`], {
    cwd: prefix,
    env,
    stdio: quiet ? ['ignore', 'ignore', 'inherit'] : ['ignore', 'inherit', 'inherit'],
    timeout: 15 * 60 * 1000,
  });
  if (r.status !== 0) {
    throw new Error(`e2e setup: 'npm install code-server@${codeServerVersion}' failed in ${prefix} (exit ${r.status ?? r.signal}).`);
  }
  const still = missingInstalledFiles(prefix);
  if (still.length) {
    throw new Error(`e2e setup: code-server installed but native parts are missing:\n  - ${still.join('\n  - ')}`);
  }
  // --version writes a default config.yaml and logs under the XDG folders: point them at a throwaway one.
  const xdg = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-cs-'));
  const xdgEnv = { ...process.env, XDG_CONFIG_HOME: xdg, XDG_DATA_HOME: xdg, XDG_CACHE_HOME: xdg, XDG_RUNTIME_DIR: xdg };
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 60_000, env: xdgEnv });
  fs.rmSync(xdg, { recursive: true, force: true });
  if (v.status !== 0 || !v.stdout.includes(codeServerVersion)) {
    throw new Error(`e2e setup: '${bin} --version' did not report ${codeServerVersion}: ${v.stdout}${v.stderr}`);
  }
  const versionLine = v.stdout.split('\n').find((l) => l.includes(codeServerVersion)) ?? codeServerVersion;
  fs.writeFileSync(path.join(prefix, '.complete'), `${versionLine}\n`);
  log(`e2e setup: code-server ${versionLine}`);
  return bin;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${ensureCodeServer()}\n`);
  } catch (ex) {
    process.stderr.write(`${ex instanceof Error ? ex.message : String(ex)}\n`);
    process.exit(ex instanceof PrerequisiteError ? 3 : 1);
  }
}
