// Runs the integration suites (mocha inside the real extension host) and the Playwright e2e
// scenarios against ONE code-server 4.100.3 workbench, driven by Debian's headless Chromium.
// Builds nothing: `npm test` already built dist/ and out/. Prints exactly
//   integration: N passed, N failed[, N skipped]
//   e2e: N passed, N failed[, N skipped]        (vsix-e2e: ... with --vsix)
// and exits non-zero on any failure. Screenshots and logs go to .test-artifacts/ (git-ignored).
//   node scripts/e2e/run.mjs [--integration-only | --e2e-only] [--grep TEXT] [--vsix FILE]
// --vsix FILE installs the packaged extension into the workbench and runs the e2e scenarios against
// it instead of the development folder (the integration suites need the development path).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromiumPath, ensureCodeServer, PrerequisiteError } from './setup.mjs';
import { haveFixtures, makeWorkspace, missingFixturesReason, repoRoot } from './workspace.mjs';

const args = process.argv.slice(2);
const only = args.includes('--integration-only') ? 'integration' : args.includes('--e2e-only') || args.includes('--vsix') ? 'e2e' : undefined;
const grepIndex = args.indexOf('--grep');
const grep = grepIndex >= 0 ? args[grepIndex + 1] : undefined;
const vsixIndex = args.indexOf('--vsix');
const vsix = vsixIndex >= 0 ? path.resolve(args[vsixIndex + 1] ?? '') : undefined;

/** Whole run, in milliseconds: never hang CI. */
const overallTimeoutMs = 30 * 60 * 1000;
/** The integration suites, in milliseconds. */
const integrationTimeoutMs = 10 * 60 * 1000;
/** One e2e scenario, in milliseconds. */
const scenarioTimeoutMs = 240 * 1000;
/** Runs of a failing scenario before it counts as failed (WEIGHTSCOPE_E2E_ATTEMPTS). */
const scenarioAttempts = Math.max(1, Number(process.env.WEIGHTSCOPE_E2E_ATTEMPTS ?? 3));

const artifacts = path.join(repoRoot, '.test-artifacts');
const log = (m) => process.stderr.write(`[e2e] ${m}\n`);

let codeServer;
let browser;
let runDir;

function cleanup() {
  if (codeServer && codeServer.exitCode === null) {
    try {
      process.kill(-codeServer.pid, 'SIGTERM'); // the process group we started (detached)
    } catch {
      // already gone
    }
  }
}

const overall = setTimeout(() => {
  log(`overall timeout of ${overallTimeoutMs / 1000} s reached; stopping`);
  process.stdout.write('integration: 0 passed, 1 failed\ne2e: 0 passed, 1 failed\n');
  cleanup();
  process.exit(1);
}, overallTimeoutMs);
overall.unref();
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (codeServer.exitCode !== null) throw new Error(`code-server exited with code ${codeServer.exitCode}; see ${path.join(artifacts, 'code-server.log')}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`code-server did not answer ${url}/healthz within ${timeoutMs / 1000} s`);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
    }),
  ]);
}

function summaryLine(name, c) {
  return `${name}: ${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}`;
}

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  const bin = ensureCodeServer();
  // Short path: the git extension and others put unix sockets under XDG_RUNTIME_DIR.
  runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wse2e-'));
  const xdg = path.join(runDir, 'x');
  for (const d of ['config', 'data', 'cache', 'run']) fs.mkdirSync(path.join(xdg, d), { recursive: true, mode: 0o700 });
  const userData = path.join(runDir, 'ud');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  const settingsFile = path.join(userData, 'User', 'settings.json');
  const baseSettings = {
    'workbench.startupEditor': 'none',
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'security.workspace.trust.enabled': false,
    'workbench.colorTheme': 'Default Dark Modern',
    'workbench.tips.enabled': false,
    'git.enabled': false,
    'files.simpleDialog.enable': true,
    'window.dialogStyle': 'custom',
  };
  fs.writeFileSync(settingsFile, JSON.stringify(baseSettings, null, 2));
  const ws = makeWorkspace(path.join(runDir, 'ws'));
  if (!haveFixtures) log(missingFixturesReason);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  fs.writeFileSync(path.join(runDir, 'config.yaml'), `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const resultsFile = path.join(runDir, 'integration-results.json');
  const xdgEnv = {
    XDG_CONFIG_HOME: path.join(xdg, 'config'),
    XDG_DATA_HOME: path.join(xdg, 'data'),
    XDG_CACHE_HOME: path.join(xdg, 'cache'),
    XDG_RUNTIME_DIR: path.join(xdg, 'run'),
  };
  if (vsix) {
    if (!fs.existsSync(vsix)) throw new Error(`--vsix: ${vsix} does not exist (run npm run package first)`);
    const r = spawnSync(bin, ['--user-data-dir', userData, '--extensions-dir', path.join(runDir, 'exts'), '--install-extension', vsix], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, ...xdgEnv, EXTENSIONS_GALLERY: '{}' },
    });
    if (r.status !== 0) throw new Error(`installing ${vsix} failed: ${r.stdout}${r.stderr}`);
    log(`installed ${path.basename(vsix)}; the scenarios run against the installed package`);
  }
  const csLog = fs.openSync(path.join(artifacts, 'code-server.log'), 'w');
  codeServer = spawn(
    bin,
    [
      '--config', path.join(runDir, 'config.yaml'),
      '--user-data-dir', userData,
      '--extensions-dir', path.join(runDir, 'exts'),
      '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
      '--disable-getting-started-override', '--ignore-last-opened',
    ],
    {
      detached: true,
      stdio: ['ignore', csLog, csLog],
      env: {
        ...process.env,
        ...xdgEnv,
        EXTENSIONS_GALLERY: '{}',
        WEIGHTSCOPE_TEST_RESULTS: resultsFile,
        WEIGHTSCOPE_TEST_GREP: grep ?? '',
      },
    },
  );
  await waitForHealth(url, 30_000);
  log(`code-server ${url} (pid ${codeServer.pid}), workspace ${ws.dir}`);

  const { chromium } = await import('playwright-core');
  browser = await chromium.launchPersistentContext(path.join(runDir, 'chromium'), {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1400, height: 900 },
    permissions: ['clipboard-read', 'clipboard-write'],
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  browser.setDefaultTimeout(30_000);

  const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
  const workbenchUrl = (folder, payload) => `${url}/?folder=${encodeURIComponent(folder)}${payload ? `&payload=${encodeURIComponent(JSON.stringify(payload))}` : ''}`;
  const counts = {};
  let failed = false;

  // ---- (1) integration suites inside the extension host ------------------------------------
  if (only !== 'e2e') {
    const c = { passed: 0, failed: 0, skipped: 0 };
    counts.integration = c;
    const page = await browser.newPage();
    const exit = new Promise((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code) => resolve(code));
    });
    await page.exposeFunction('codeAutomationLog', (_level, msg) => {
      if (process.env.WEIGHTSCOPE_E2E_VERBOSE) log(`ext host: ${String(msg)}`);
    });
    const payload = [
      ['extensionDevelopmentPath', remote(repoRoot)],
      ['extensionTestsPath', remote(path.join(repoRoot, 'out', 'test', 'integration', 'index'))],
    ];
    const started = Date.now();
    try {
      await page.goto(workbenchUrl(ws.dir, payload));
      const code = await withTimeout(exit, integrationTimeoutMs, 'integration tests');
      log(`integration tests exited with ${code} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      if (!fs.existsSync(resultsFile)) throw new Error(`the test run wrote no results (${resultsFile}); exit code ${code}`);
      const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
      for (const t of results.tests) {
        if (t.state === 'passed') c.passed++;
        else if (t.state === 'failed') {
          c.failed++;
          log(`FAIL integration: ${t.title}\n${t.error ?? ''}`);
        } else {
          c.skipped++;
          log(`skip integration: ${t.title}: ${t.reason ?? ''}`);
        }
      }
      if (code !== 0 && c.failed === 0) {
        c.failed++;
        log(`integration run exited with code ${code}`);
      }
      fs.copyFileSync(resultsFile, path.join(artifacts, 'integration-results.json'));
    } catch (ex) {
      c.failed++;
      log(`integration: ${ex instanceof Error ? ex.message : String(ex)}`);
      await page.screenshot({ path: path.join(artifacts, 'integration-failure.png') }).catch(() => undefined);
    }
    await page.close().catch(() => undefined);
    failed ||= c.failed > 0;
  }

  // ---- (2) Playwright scenarios in the workbench ----------------------------------------------
  if (only !== 'integration') {
    const c = { passed: 0, failed: 0, skipped: 0 };
    counts.e2e = c;
    const e2eDir = path.join(artifacts, 'e2e');
    fs.mkdirSync(e2eDir, { recursive: true });
    let scenarioIndex = 0;
    // Every module in out/test/e2e that exports arrays of scenarios ({ name, needsFixtures, run }).
    const scenarios = [];
    const e2eOut = path.join(repoRoot, 'out', 'test', 'e2e');
    for (const f of fs.readdirSync(e2eOut).filter((n) => n.endsWith('.js')).sort()) {
      const mod = await import(pathToFileURL(path.join(e2eOut, f)).href);
      for (const v of Object.values(mod)) {
        if (Array.isArray(v)) scenarios.push(...v.filter((s) => s && typeof s.name === 'string' && typeof s.run === 'function'));
      }
    }
    for (const s of scenarios) {
      if (grep && !s.name.includes(grep)) continue;
      if (s.needsFixtures && !haveFixtures) {
        c.skipped++;
        log(`skip e2e: ${s.name}: ${missingFixturesReason}`);
        continue;
      }
      // A scenario that fails is run again in a fresh page and workspace (up to scenarioAttempts
      // runs): a real workbench on a loaded 2-core machine has timing hiccups. Every failure is
      // logged; only the last one counts.
      const failedShot = path.join(e2eDir, `FAILED-${s.name.replace(/[^a-z0-9]+/gi, '-')}.png`);
      fs.rmSync(failedShot, { force: true });
      for (let attempt = 1; attempt <= scenarioAttempts; attempt++) {
        const page = await browser.newPage();
        if (process.env.WEIGHTSCOPE_E2E_VERBOSE) {
          page.on('console', (m) => {
            if (m.type() === 'error' || m.type() === 'warning') log(`console.${m.type()}: ${m.text().slice(0, 500)}`);
          });
        }
        const started = Date.now();
        let passed = false;
        try {
          // Each scenario gets its own workspace folder: the workbench keeps per-folder state
          // (open editors, sidebar) that would otherwise leak from one scenario into the next.
          const ctx = {
            page,
            // made before the scenario runs, so it can add files before or after opening the workbench
            workspace: makeWorkspace(path.join(runDir, `s${++scenarioIndex}`)).dir,
            artifactsDir: e2eDir,
            settingsFile,
            baseSettings,
            openWorkbench: async (extraSettings = {}) => {
              fs.writeFileSync(settingsFile, JSON.stringify({ ...baseSettings, ...extraSettings }, null, 2));
              return page.goto(workbenchUrl(ctx.workspace, vsix ? undefined : [['extensionDevelopmentPath', remote(repoRoot)]]));
            },
            log,
          };
          await withTimeout(s.run(ctx), scenarioTimeoutMs, `scenario '${s.name}'`);
          passed = true;
          c.passed++;
          log(`pass e2e: ${s.name} (${((Date.now() - started) / 1000).toFixed(1)} s${attempt > 1 ? `, attempt ${attempt}` : ''})`);
        } catch (ex) {
          const last = attempt === scenarioAttempts;
          if (last) c.failed++;
          log(`${last ? 'FAIL' : 'retry'} e2e: ${s.name} (attempt ${attempt}): ${ex instanceof Error ? (ex.stack ?? ex.message) : String(ex)}`);
          await page.screenshot({ path: failedShot }).catch(() => undefined);
        } finally {
          fs.writeFileSync(settingsFile, JSON.stringify(baseSettings, null, 2));
          await page.close().catch(() => undefined);
        }
        if (passed) {
          fs.rmSync(failedShot, { force: true });
          break;
        }
      }
    }
    failed ||= c.failed > 0;
  }

  // Keep the extension host logs with the artifacts.
  const logsDir = path.join(userData, 'logs');
  fs.rmSync(path.join(artifacts, 'workbench-logs'), { recursive: true, force: true });
  if (fs.existsSync(logsDir)) fs.cpSync(logsDir, path.join(artifacts, 'workbench-logs'), { recursive: true });

  await browser.close().catch(() => undefined);
  cleanup();
  if (counts.integration) process.stdout.write(`${summaryLine('integration', counts.integration)}\n`);
  if (counts.e2e) process.stdout.write(`${summaryLine(vsix ? 'vsix-e2e' : 'e2e', counts.e2e)}\n`);
  return failed ? 1 : 0;
}

let status = 1;
try {
  status = await main();
} catch (ex) {
  if (ex instanceof PrerequisiteError) {
    process.stderr.write(`${ex.message}\n`);
  } else {
    log(ex instanceof Error ? (ex.stack ?? ex.message) : String(ex));
  }
  if (only !== 'e2e') process.stdout.write('integration: 0 passed, 1 failed\n');
  if (only !== 'integration') process.stdout.write('e2e: 0 passed, 1 failed\n');
  status = 1;
} finally {
  await browser?.close().catch(() => undefined);
  cleanup();
  if (runDir) {
    // code-server needs a moment to exit before its folders can go.
    await new Promise((r) => setTimeout(r, 500));
    fs.rmSync(runDir, { recursive: true, force: true, maxRetries: 3 });
  }
}
process.exit(status);
