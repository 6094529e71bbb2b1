/**
 * The integration test runner, loaded by the extension host (`extensionTestsPath`): runs every
 * `*.test.js` suite next to it with mocha (tdd UI) and writes a JSON result file
 * (WEIGHTSCOPE_TEST_RESULTS) that the outer runner turns into one summary line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

/** One test's outcome. */
interface TestOutcome {
  title: string;
  state: 'passed' | 'failed' | 'skipped';
  durationMs?: number;
  error?: string;
  reason?: string;
}

/** Reasons given by skipped tests (set by `skipWith` in helpers). */
export const skipReasons = new Map<string, string>();

/** Temporary folders made by the suites (`tempDir` in helpers), removed when the run ends. */
export const tempDirs = new Set<string>();

/** Removes the suites' temporary folders; one that cannot be removed is left and named. */
function removeTempDirs(): void {
  for (const d of tempDirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch (ex) {
      console.warn(`could not remove the temporary folder ${d}: ${ex instanceof Error ? ex.message : String(ex)}`);
    }
  }
  tempDirs.clear();
}

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', timeout: 60_000, color: false, reporter: 'spec' });
  const grep = process.env.WEIGHTSCOPE_TEST_GREP;
  if (grep) {
    mocha.grep(grep);
  }
  for (const f of fs.readdirSync(__dirname).sort()) {
    if (f.endsWith('.test.js')) {
      mocha.addFile(path.join(__dirname, f));
    }
  }
  const outcomes: TestOutcome[] = [];
  const resultsFile = process.env.WEIGHTSCOPE_TEST_RESULTS ?? path.resolve(__dirname, '..', '..', '..', '.test-artifacts', 'integration-results.json');
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      removeTempDirs();
      try {
        fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
        fs.writeFileSync(resultsFile, JSON.stringify({ tests: outcomes }, null, 2));
      } catch (ex) {
        reject(ex instanceof Error ? ex : new Error(String(ex)));
        return;
      }
      if (failures > 0) {
        reject(new Error(`${failures} integration tests failed.`));
      } else {
        resolve();
      }
    });
    runner.on('pass', (t) => outcomes.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration }));
    runner.on('fail', (t, err: unknown) =>
      outcomes.push({ title: t.fullTitle(), state: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
    runner.on('pending', (t) => outcomes.push({ title: t.fullTitle(), state: 'skipped', reason: skipReasons.get(t.fullTitle()) ?? 'skipped' }));
  });
}
