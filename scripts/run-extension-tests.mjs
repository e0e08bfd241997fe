// Runs the mocha suite in test/vscode inside a real VS Code extension host:
// 1. code-server 4.100.3 (VS Code 1.100.3) driven by headless Chromium: always;
// 2. desktop VS Code through @vscode/test-electron: when one is found (VSCODE_EXECUTABLE, or a
//    desktop `code` on PATH); otherwise reported as SKIPPED, which never counts as passed.
//
//   node scripts/run-extension-tests.mjs [--grep <pattern>] [--no-build] [--keep] [--timeout <s>]
//
// Exit code 0 only when every host that ran passed. Logs go to test-results/extension/.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import {
  buildExtension,
  installCodeServer,
  launchChromium,
  makeUserDataDir,
  makeWorkspace,
  removeDir,
  repoRoot,
  startCodeServer,
} from './code-server.mjs';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const grep = option('--grep', undefined);
const suiteTimeoutS = Number(option('--timeout', '300'));
const resultsDir = path.join(repoRoot, 'test-results', 'extension');
const testsOut = path.join(repoRoot, 'out', 'extension-tests');
const fixturesDir = path.join(repoRoot, 'test', 'fixtures');

const seconds = (t0) => ((Date.now() - t0) / 1000).toFixed(1);

/** Compiles test/vscode/*.ts on its own, so a half-written file elsewhere cannot block the run. */
async function compileTests() {
  rmSync(testsOut, { recursive: true, force: true });
  const dir = path.join(repoRoot, 'test', 'vscode');
  const entryPoints = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));
  await esbuild.build({
    entryPoints,
    outdir: testsOut,
    bundle: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return path.join(testsOut, 'index.js');
}

/** Reads the reporter lines the suite appends to its report file and prints the new ones. */
function tailer(file) {
  let printed = 0;
  return () => {
    if (!existsSync(file)) return;
    const text = readFileSync(file, 'utf8');
    const fresh = text.slice(printed);
    const upTo = fresh.lastIndexOf('\n') + 1;
    if (upTo > 0) {
      for (const line of fresh.slice(0, upTo).split('\n').slice(0, -1)) {
        if (!line.startsWith('TRANSFER_LAB_SUMMARY ')) console.log(`  ${line}`);
      }
      printed += upTo;
    }
  };
}

function readSummary(file) {
  if (!existsSync(file)) return undefined;
  const m = /^TRANSFER_LAB_SUMMARY (.*)$/m.exec(readFileSync(file, 'utf8'));
  return m ? JSON.parse(m[1]) : undefined;
}

// --- code-server host

/**
 * `untrusted`: a second window with workspace trust on and the folder not trusted (restricted
 * mode), running only untrusted.test.js.
 */
async function runInCodeServer(testsIndex, { untrusted = false } = {}) {
  const t0 = Date.now();
  const workspace = makeWorkspace(readdirSync(fixturesDir).map((f) => path.join(fixturesDir, f)), 'tl-ext-ws-');
  const userDataDir = makeUserDataDir(
    untrusted ? { settings: { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.emptyWindow': false } } : {},
  );
  const tag = untrusted ? 'code-server-untrusted' : 'code-server';
  const reportFile = path.join(resultsDir, `${tag}-report.txt`);
  const consoleFile = path.join(resultsDir, `${tag}-browser.log`);
  rmSync(reportFile, { force: true });
  writeFileSync(consoleFile, '');
  const env = {
    TRANSFER_LAB_TEST_REPORT: reportFile,
    TRANSFER_LAB_TEST_FILES: untrusted ? 'untrusted' : 'trusted',
    ...(grep ? { TRANSFER_LAB_TEST_GREP: grep } : {}),
  };
  let cs;
  let browser;
  let exitCode;
  const tail = tailer(reportFile);
  const poll = setInterval(tail, 500);
  try {
    cs = await startCodeServer({ folder: workspace, userDataDir, env, trust: untrusted, logFile: path.join(resultsDir, `${tag}.log`) });
    console.log(`code-server: ${cs.baseUrl} (started in ${seconds(t0)} s), workspace ${workspace}`);
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    let resolveExit;
    const exited = new Promise((resolve) => (resolveExit = resolve));
    await page.exposeFunction('codeAutomationExit', (code) => resolveExit(Number(code)));
    await page.exposeFunction('codeAutomationLog', (type, logArgs) => {
      appendFileSync(consoleFile, `[automation ${type}] ${Array.isArray(logArgs) ? logArgs.join(' ') : String(logArgs)}\n`);
    });
    // Info lines already arrive through codeAutomationLog; keep the browser's own errors.
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') appendFileSync(consoleFile, `[console ${m.type()}] ${m.text()}\n`);
    });
    page.on('pageerror', (e) => appendFileSync(consoleFile, `[pageerror] ${e.stack ?? e.message}\n`));
    const remote = (p) => `vscode-remote://localhost:${cs.port}${p}`;
    const payload = [
      ['extensionDevelopmentPath', remote(repoRoot)],
      ['extensionTestsPath', remote(testsIndex)],
      ['skipWelcome', 'true'],
    ];
    const url = `${cs.baseUrl}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url);
    let timer;
    exitCode = await Promise.race([
      exited,
      new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), suiteTimeoutS * 1000))),
    ]);
    clearTimeout(timer);
    if (untrusted) await page.screenshot({ path: path.join(resultsDir, `${tag}.png`) }).catch(() => undefined);
    if (exitCode === 'timeout') {
      console.log(`code-server: the suite did not finish in ${suiteTimeoutS} s`);
      await page.screenshot({ path: path.join(resultsDir, `${tag}-timeout.png`) }).catch(() => undefined);
    } else if (exitCode !== 0) {
      await page.screenshot({ path: path.join(resultsDir, `${tag}-failed.png`) }).catch(() => undefined);
    }
  } finally {
    clearInterval(poll);
    tail();
    await browser?.close().catch(() => undefined);
    await cs?.stop();
    if (!flag('--keep')) {
      removeDir(workspace);
      removeDir(userDataDir);
    }
  }
  const summary = readSummary(reportFile);
  const ok = exitCode === 0 && summary !== undefined && summary.failed === 0;
  const passed = summary?.passed ?? 0;
  // A suite that never reported (crash, timeout) counts as one failure, never as a pass.
  const failed = summary ? summary.failed + (exitCode !== 0 && summary.failed === 0 ? 1 : 0) : 1;
  if (!summary) console.log(`code-server: no test summary (exit ${exitCode}); see ${path.relative(repoRoot, consoleFile)} and code-server.log`);
  console.log(`code-server: ${passed} passed, ${failed} failed, ${summary?.pending ?? 0} pending in ${seconds(t0)} s (suite ${summary?.seconds?.toFixed(1) ?? '?'} s)`);
  return { ok, passed, failed };
}

// --- desktop VS Code host

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Desktop VS Code's Electron executable, or why there is none. */
export function findDesktopVSCode() {
  const fromEnv = process.env.VSCODE_EXECUTABLE;
  if (fromEnv) {
    return existsSync(fromEnv) ? { executable: fromEnv } : { reason: `VSCODE_EXECUTABLE=${fromEnv} does not exist` };
  }
  const cli = which('code');
  if (!cli) return { reason: 'no VSCODE_EXECUTABLE and no `code` on PATH (desktop VS Code cannot be downloaded here)' };
  const real = realpathSync(cli);
  // Desktop layouts: Linux <root>/bin/code beside the Electron binary <root>/code;
  // macOS <App>/Contents/Resources/app/bin/code with <App>/Contents/MacOS/Electron.
  const linuxRoot = path.dirname(path.dirname(real));
  if (existsSync(path.join(linuxRoot, 'code')) && existsSync(path.join(linuxRoot, 'resources', 'app', 'product.json'))) {
    return { executable: path.join(linuxRoot, 'code') };
  }
  const mac = path.resolve(real, '..', '..', '..', '..', 'MacOS', 'Electron');
  if (existsSync(mac)) return { executable: mac };
  return { reason: `\`code\` on PATH (${real}) is not desktop VS Code (no Electron executable beside it; code-server's remote CLI looks like this)` };
}

async function runInDesktop(executable, testsIndex) {
  const t0 = Date.now();
  const { runTests } = await import('@vscode/test-electron');
  const workspace = makeWorkspace(readdirSync(fixturesDir).map((f) => path.join(fixturesDir, f)), 'tl-ext-ws-');
  const userDataDir = makeUserDataDir();
  const reportFile = path.join(resultsDir, 'test-electron-report.txt');
  rmSync(reportFile, { force: true });
  const tail = tailer(reportFile);
  const poll = setInterval(tail, 500);
  let exitCode;
  try {
    exitCode = await runTests({
      vscodeExecutablePath: executable,
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath: testsIndex,
      extensionTestsEnv: { TRANSFER_LAB_TEST_REPORT: reportFile, ...(grep ? { TRANSFER_LAB_TEST_GREP: grep } : {}) },
      launchArgs: [
        workspace,
        '--user-data-dir', userDataDir,
        '--extensions-dir', path.join(userDataDir, 'extensions'),
        '--disable-workspace-trust',
        '--skip-welcome',
        '--skip-release-notes',
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      ],
    });
  } catch (e) {
    console.log(`test-electron: ${e.message ?? e}`);
    exitCode = 1;
  } finally {
    clearInterval(poll);
    tail();
    if (!flag('--keep')) {
      removeDir(workspace);
      removeDir(userDataDir);
    }
  }
  const summary = readSummary(reportFile);
  const passed = summary?.passed ?? 0;
  const failed = summary ? summary.failed + (exitCode !== 0 && summary.failed === 0 ? 1 : 0) : 1;
  console.log(`test-electron: ${passed} passed, ${failed} failed in ${seconds(t0)} s`);
  return { ok: exitCode === 0 && !!summary && summary.failed === 0, passed, failed };
}

// --- main

async function main() {
  const t0 = Date.now();
  mkdirSync(resultsDir, { recursive: true });
  if (!flag('--no-build')) buildExtension();
  const testsIndex = await compileTests();
  const tInstall = Date.now();
  await installCodeServer();
  console.log(`code-server install check: ${seconds(tInstall)} s`);

  const results = [];
  console.log('\n== extension tests in code-server 4.100.3 (VS Code 1.100.3, web extension host on Node) ==');
  results.push(await runInCodeServer(testsIndex));
  if (!grep) {
    console.log('\n== restricted mode (untrusted workspace) ==');
    results.push(await runInCodeServer(testsIndex, { untrusted: true }));
  }

  const desktop = findDesktopVSCode();
  let skipped = 0;
  if (desktop.executable) {
    console.log(`\n== extension tests in desktop VS Code (${desktop.executable}) via @vscode/test-electron ==`);
    results.push(await runInDesktop(desktop.executable, testsIndex));
  } else {
    skipped = 1;
    console.log(`\ntest-electron: SKIPPED — ${desktop.reason}`);
  }

  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const ok = results.every((r) => r.ok);
  console.log(`\nextension tests took ${seconds(t0)} s`);
  // The skipped desktop run counts as skipped, never as passed.
  console.log(`extension tests: ${passed} passed, ${failed} failed, ${skipped} skipped${skipped ? ' (test-electron host: no desktop VS Code)' : ''}`);
  process.exitCode = ok ? 0 : 1;
}

main().catch((e) => {
  console.error(e.stack ?? String(e));
  console.log('extension tests: 0 passed, 1 failed');
  process.exitCode = 1;
});
