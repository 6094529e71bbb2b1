// Runs the same integration suites (test/integration, built into out/) in a desktop VS Code
// downloaded by @vscode/test-electron, where the network allows it. Uses the same throwaway
// workspace as the code-server runner (fixture copies + broken files).
//   node scripts/e2e/runElectron.mjs [--version 1.100.3]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { makeWorkspace, repoRoot } from './workspace.mjs';

const args = process.argv.slice(2);
const vi = args.indexOf('--version');
const version = vi >= 0 ? args[vi + 1] : '1.100.3';

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wselectron-'));
const ws = makeWorkspace(path.join(runDir, 'ws'));
const resultsFile = path.join(repoRoot, '.test-artifacts', 'integration-electron-results.json');
fs.rmSync(resultsFile, { force: true });
let status = 1;
try {
  status = await runTests({
    version,
    extensionDevelopmentPath: repoRoot,
    extensionTestsPath: path.join(repoRoot, 'out', 'test', 'integration', 'index'),
    launchArgs: [ws.dir, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes', `--user-data-dir=${path.join(runDir, 'ud')}`],
    extensionTestsEnv: { WEIGHTSCOPE_TEST_RESULTS: resultsFile },
  });
} catch (ex) {
  process.stderr.write(`integration (electron): ${ex instanceof Error ? ex.message : String(ex)}\n`);
} finally {
  fs.rmSync(runDir, { recursive: true, force: true });
}
if (fs.existsSync(resultsFile)) {
  const { tests } = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
  const n = (s) => tests.filter((t) => t.state === s).length;
  const skipped = n('skipped');
  process.stdout.write(`integration: ${n('passed')} passed, ${n('failed')} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
}
process.exit(status === 0 ? 0 : 1);
