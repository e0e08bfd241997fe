// UI tests: the packaged extension (.vsix) installed into a fresh code-server, driven through the
// workbench in headless Debian Chromium. Each test/ui/*.ui.mjs exports { name, workspaceFiles, run }.
// A workspaceFiles entry is a repository path, copied to the workspace's top level under its own
// name, or { from, to }: copied (recursively) to the path `to` inside the workspace.
//
//   node scripts/run-ui-tests.mjs [--vsix <file>] [--keep] [--grep <text>]
//
// Screenshots and logs go to test-results/ (ui-<test>.png, ui/…). Exit code 0 only if all passed.
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  buildExtension,
  installCodeServer,
  installExtension,
  launchChromium,
  makeUserDataDir,
  makeWorkspace,
  removeDir,
  repoRoot,
  startCodeServer,
} from './code-server.mjs';

const args = process.argv.slice(2);
const flag = (n) => args.includes(n);
const option = (n, d) => {
  const i = args.indexOf(n);
  return i >= 0 && args[i + 1] ? args[i + 1] : d;
};
const resultsDir = path.join(repoRoot, 'test-results');
const logDir = path.join(resultsDir, 'ui');
const seconds = (t0) => ((Date.now() - t0) / 1000).toFixed(1);

/**
 * The .vsix as users get it: `npm run package` (scripts/package.mjs) when it exists; until then
 * a minified build packaged by vsce with an allowlist, so the test never sees unbundled sources.
 */
function packageExtension() {
  const given = option('--vsix');
  if (given) return path.resolve(given);
  if (existsSync(path.join(repoRoot, 'scripts', 'package.mjs'))) {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'tl-vsix-')), 'transfer-lab.vsix');
    // npm appends the arguments after `--` to the script's last command, scripts/package.mjs.
    const r = spawnSync('npm', ['run', 'package', '--', '--out', out], { cwd: repoRoot, stdio: 'inherit' });
    if (r.status !== 0 || !existsSync(out)) throw new Error(`npm run package -- --out ${out} failed (exit ${r.status})`);
    return out;
  }
  console.log('scripts/package.mjs does not exist yet: packaging with vsce directly');
  buildExtension({ minify: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tl-vsix-'));
  const ignore = path.join(tmp, '.vscodeignore');
  writeFileSync(ignore, ['**', '!dist/**/*.js', '!dist/**/*.wasm', '!dist/**/*.css', '!media/**', '!package.json', '!README.md', '!LICENSE', '!CHANGELOG.md', ''].join('\n'));
  const out = path.join(tmp, 'transfer-lab.vsix');
  const r = spawnSync(
    process.execPath,
    [path.join(repoRoot, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--skip-license', '--ignoreFile', ignore, '-o', out],
    { cwd: repoRoot, encoding: 'utf8', input: 'y\n' },
  );
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  if (r.status !== 0 || !existsSync(out)) throw new Error(`vsce package failed (exit ${r.status})`);
  return out;
}

function makeTestWorkspace(entries) {
  const plain = entries.filter((e) => typeof e === 'string');
  const workspace = makeWorkspace(plain.map((f) => path.join(repoRoot, f)), 'tl-ui-ws-');
  for (const e of entries.filter((e) => typeof e !== 'string')) {
    const to = path.resolve(workspace, e.to ?? e.from);
    if (!to.startsWith(workspace + path.sep)) throw new Error(`workspace entry ${JSON.stringify(e)} points outside the workspace`);
    cpSync(path.join(repoRoot, e.from), to, { recursive: true });
  }
  return workspace;
}

async function runOne(test, vsix) {
  const t0 = Date.now();
  const slug = path.basename(test.file, '.ui.mjs');
  const logFile = path.join(logDir, `${slug}.log`);
  writeFileSync(logFile, '');
  // A failure screenshot from an earlier run would read as this run's.
  rmSync(path.join(resultsDir, `ui-${slug}-failed.png`), { force: true });
  const log = (msg) => {
    const line = `[${seconds(t0).padStart(5)} s] ${msg}`;
    console.log(`  ${line}`);
    appendFileSync(logFile, line + '\n');
  };
  const workspace = makeTestWorkspace(test.workspaceFiles);
  // A fresh profile is a first install: each test gets no walkthrough unless it asks (`settings`).
  const userDataDir = makeUserDataDir({ settings: test.settings ?? { 'workbench.welcomePage.walkthroughs.openOnInstall': false } });
  let cs;
  let browser;
  let page;
  try {
    installExtension(vsix, userDataDir, { log: (l) => appendFileSync(logFile, l + '\n') });
    log(`installed ${path.basename(vsix)} into a fresh extensions folder`);
    cs = await startCodeServer({ folder: workspace, userDataDir, logFile: path.join(logDir, `${slug}-code-server.log`) });
    log(`code-server on ${cs.baseUrl}, workspace ${workspace}`);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (e) => appendFileSync(logFile, `[pageerror] ${e.message}\n`));
    page.on('console', (m) => {
      if (m.type() === 'error') appendFileSync(logFile, `[console error] ${m.text()}\n`);
    });
    await page.goto(`${cs.baseUrl}/?folder=${encodeURIComponent(workspace)}`);
    const { waitForWorkbench } = await import('../test/ui/workbench.mjs');
    await waitForWorkbench(page, { emptyFolder: test.workspaceFiles.length === 0 });
    log('workbench loaded');
    await test.run({ page, baseUrl: cs.baseUrl, workspace, resultsDir, log });
    log(`PASSED in ${seconds(t0)} s`);
    return true;
  } catch (e) {
    log(`FAILED: ${e.stack ?? e.message}`);
    if (page) await page.screenshot({ path: path.join(resultsDir, `ui-${slug}-failed.png`) }).catch(() => undefined);
    return false;
  } finally {
    await browser?.close().catch(() => undefined);
    await cs?.stop();
    if (!flag('--keep')) {
      removeDir(workspace);
      removeDir(userDataDir);
    }
  }
}

async function main() {
  const t0 = Date.now();
  mkdirSync(logDir, { recursive: true });
  const grep = option('--grep');
  const dir = path.join(repoRoot, 'test', 'ui');
  const tests = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.ui.mjs')).sort()) {
    const mod = await import(pathToFileURL(path.join(dir, f)).href);
    if (!grep || mod.name.includes(grep) || f.includes(grep)) tests.push({ ...mod, file: f });
  }
  if (!tests.length) throw new Error(`no UI tests${grep ? ` match "${grep}"` : ''} in test/ui`);

  const tPkg = Date.now();
  const vsix = packageExtension();
  console.log(`package: ${path.relative(repoRoot, vsix) || vsix} (${(statSync(vsix).size / 1024 / 1024).toFixed(1)} MiB) in ${seconds(tPkg)} s`);
  await installCodeServer();

  let passed = 0;
  let failed = 0;
  for (const test of tests) {
    console.log(`\n== ${test.name} ==`);
    if (await runOne(test, vsix)) passed++;
    else failed++;
  }
  console.log(`\nui tests took ${seconds(t0)} s`);
  console.log(`ui tests: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((e) => {
  console.error(e.stack ?? String(e));
  console.log('ui tests: 0 passed, 1 failed');
  process.exitCode = 1;
});
