/**
 * Entry point of the extension-test suite, loaded by the extension host (code-server's or desktop
 * VS Code's through @vscode/test-electron). The host calls run() and ends the run with its result.
 *
 * The host's stdout is not always visible to the runner (code-server forwards it only to the
 * browser console), so the reporter's lines are also appended to the file named by
 * TRANSFER_LAB_TEST_REPORT, with a JSON summary line at the end.
 */
import { appendFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { format } from 'node:util';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const reportFile = process.env.TRANSFER_LAB_TEST_REPORT;
  const grep = process.env.TRANSFER_LAB_TEST_GREP;
  const mocha = new Mocha({
    ui: 'bdd',
    // Each test waits for the kernel process; single tests above a minute mean something hangs.
    timeout: Number(process.env.TRANSFER_LAB_TEST_TIMEOUT_MS ?? 60_000),
    color: false,
    reporter: 'spec',
    ...(grep ? { grep } : {}),
  });

  const base = Mocha.reporters.Base as unknown as { consoleLog: (...a: unknown[]) => void };
  const originalLog = base.consoleLog;
  base.consoleLog = (...args: unknown[]) => {
    originalLog(...args);
    if (reportFile) appendFileSync(reportFile, format(...args) + '\n');
  };

  // The untrusted-workspace suite needs a window in restricted mode, so it runs on its own.
  const untrusted = process.env.TRANSFER_LAB_TEST_FILES === 'untrusted';
  for (const f of readdirSync(__dirname).sort()) {
    if (f.endsWith('.test.js') && (f === 'untrusted.test.js') === untrusted) mocha.addFile(path.join(__dirname, f));
  }

  return new Promise((resolve, reject) => {
    const started = Date.now();
    try {
      const runner = mocha.run((failures) => {
        const s = runner.stats;
        const summary = {
          passed: s?.passes ?? 0,
          failed: failures,
          pending: s?.pending ?? 0,
          seconds: (Date.now() - started) / 1000,
        };
        if (reportFile) appendFileSync(reportFile, `TRANSFER_LAB_SUMMARY ${JSON.stringify(summary)}\n`);
        base.consoleLog = originalLog;
        if (failures > 0) reject(new Error(`${failures} extension test(s) failed`));
        else resolve();
      });
    } catch (e) {
      if (reportFile) appendFileSync(reportFile, `suite crashed: ${(e as Error).stack ?? String(e)}\n`);
      reject(e);
    }
  });
}
