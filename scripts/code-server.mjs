// code-server (VS Code 1.100.3 as a web server) for the real-VS-Code tests.
// Desktop VS Code cannot be downloaded here, so the tests run inside code-server,
// installed offline from the npm registry into an ignored cache folder (like .vscode-test/).
//
//   node scripts/code-server.mjs install            install (skipped when already installed)
//   node scripts/code-server.mjs start [folder]     start on a free port until Ctrl-C
//
// As a module: installCodeServer(), startCodeServer(), installExtension().
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, createWriteStream, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.100.3';
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const cacheDir = path.join(repoRoot, '.cache', 'code-server');
export const entryJs = path.join(cacheDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const marker = path.join(cacheDir, `.installed-${CODE_SERVER_VERSION}`);

// @vscode/ripgrep (inside code-server) downloads rg from GitHub unless this tarball is in its cache.
const RIPGREP_CACHE = 'vscode-ripgrep-cache-1.15.11';
const RIPGREP_TARBALL = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';

/** The web build defaults autoSave to afterDelay, which would write outputs into fixtures. */
export const defaultSettings = {
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'files.autoSave': 'off',
  'telemetry.telemetryLevel': 'off',
  'workbench.tips.enabled': false,
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'update.mode': 'none',
};

function aptPackages() {
  const file = path.join(repoRoot, '.ci', 'apt-packages.txt');
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Installs the Debian packages the code-server build and the browser need, when missing. */
function ensureSystemPackages(log) {
  const missing = [];
  if (!which('rg')) missing.push('rg (ripgrep)');
  if (!which('pkg-config')) missing.push('pkg-config');
  if (!existsSync('/usr/include/gssapi/gssapi.h')) missing.push('gssapi headers (libkrb5-dev)');
  if (!existsSync('/usr/bin/chromium')) missing.push('/usr/bin/chromium');
  if (!missing.length) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing system packages: ${missing.join(', ')}; install: apt-get install -y ${aptPackages().join(' ')}`);
  }
  log(`installing apt packages (missing: ${missing.join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...aptPackages()], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...aptPackages()], { stdio: 'inherit', env });
  }
  if (r.status !== 0) throw new Error(`apt-get install failed (exit ${r.status})`);
}

export function isInstalled() {
  return existsSync(marker) && existsSync(entryJs);
}

/** Idempotent offline install. Returns the path of code-server's entry.js. */
export async function installCodeServer({ log = console.log, force = false } = {}) {
  if (isInstalled() && !force) {
    log(`code-server ${CODE_SERVER_VERSION}: already installed in ${path.relative(repoRoot, cacheDir)}`);
    return entryJs;
  }
  const t0 = Date.now();
  ensureSystemPackages(log);
  if (process.arch !== 'x64') log(`warning: the ripgrep cache trick is set up for x64, this is ${process.arch}`);

  const rgDir = path.join(os.tmpdir(), RIPGREP_CACHE);
  mkdirSync(rgDir, { recursive: true });
  const rgTar = path.join(rgDir, RIPGREP_TARBALL);
  if (!existsSync(rgTar)) {
    const rg = which('rg');
    const r = spawnSync('tar', ['czf', rgTar, '-C', path.dirname(rg), path.basename(rg)], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('could not build the ripgrep tarball');
  }

  mkdirSync(cacheDir, { recursive: true });
  // A package.json of its own keeps npm from walking up into the repository's package.json.
  const pkg = path.join(cacheDir, 'package.json');
  if (!existsSync(pkg)) writeFileSync(pkg, JSON.stringify({ name: 'code-server-cache', private: true }, null, 2) + '\n');
  log(`installing code-server ${CODE_SERVER_VERSION} into ${path.relative(repoRoot, cacheDir)} (takes minutes)…`);
  const env = {
    ...process.env,
    // node-pty's postinstall runs `npx node-gyp`; without this npx asks and is canceled.
    npm_config_yes: 'true',
    // As root, npm otherwise refuses to run the install scripts.
    npm_config_unsafe_perm: 'true',
    // npm ≥ 11.?? skips dependency install scripts unless allowed; code-server's postinstall
    // (which installs lib/vscode's native modules in nested npm runs) is the whole point here.
    // The env var reaches those nested runs too. Older npm ignores it.
    npm_config_dangerously_allow_all_scripts: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  const code = await new Promise((resolve) => {
    const p = spawn('npm', ['install', '--no-save', '--prefix', cacheDir, `code-server@${CODE_SERVER_VERSION}`], {
      stdio: 'inherit',
      env,
    });
    p.on('exit', (c) => resolve(c ?? 1));
  });
  if (code !== 0 || !existsSync(entryJs)) throw new Error(`npm install code-server@${CODE_SERVER_VERSION} failed (exit ${code})`);
  writeFileSync(marker, new Date().toISOString() + '\n');
  log(`code-server ${CODE_SERVER_VERSION} installed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return entryJs;
}

/** Fresh user-data-dir with our settings. */
export function makeUserDataDir({ settings = {}, parent = os.tmpdir() } = {}) {
  const dir = mkdtempSync(path.join(parent, 'tl-code-server-'));
  mkdirSync(path.join(dir, 'User'), { recursive: true });
  mkdirSync(path.join(dir, 'extensions'), { recursive: true });
  writeFileSync(path.join(dir, 'User', 'settings.json'), JSON.stringify({ ...defaultSettings, ...settings }, null, 2));
  writeFileSync(path.join(dir, 'config.yaml'), 'auth: none\ncert: false\n');
  return dir;
}

function baseArgs(userDataDir, { trust = false } = {}) {
  return [
    entryJs,
    '--auth', 'none',
    '--user-data-dir', userDataDir,
    '--extensions-dir', path.join(userDataDir, 'extensions'),
    '--config', path.join(userDataDir, 'config.yaml'),
    '--disable-telemetry',
    '--disable-update-check',
    // Workspace trust is off unless a test is about it.
    ...(trust ? [] : ['--disable-workspace-trust']),
  ];
}

/** `code-server --install-extension x.vsix` into the user-data-dir's extensions folder. */
export function installExtension(vsix, userDataDir, { log = console.log } = {}) {
  const r = spawnSync(process.execPath, [...baseArgs(userDataDir), '--install-extension', vsix, '--force'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (out) log(out);
  if (r.status !== 0) throw new Error(`--install-extension ${vsix} failed (exit ${r.status}): ${out}`);
}

/**
 * Starts code-server on a free port. Resolves once it logs "HTTP server listening".
 * Returns { port, baseUrl (http://localhost:PORT, for the browser), userDataDir, logFile, stop() }.
 */
export async function startCodeServer({
  folder,
  userDataDir = makeUserDataDir(),
  logFile = path.join(userDataDir, 'code-server.log'),
  extraArgs = [],
  trust = false,
  env = {},
  timeoutMs = 60_000,
  log = () => {},
} = {}) {
  if (!isInstalled()) throw new Error('code-server is not installed: run `node scripts/code-server.mjs install`');
  const args = [...baseArgs(userDataDir, { trust }), '--bind-addr', '127.0.0.1:0', '--ignore-last-opened', ...extraArgs];
  if (folder) args.push(folder);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const logStream = createWriteStream(logFile);
  // detached: its own process group, so stop() also ends the extension host and the kernel processes.
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let text = '';
  const onData = (d) => {
    logStream.write(d);
    text += d.toString();
    for (const line of d.toString().split('\n')) if (line.trim()) log(line);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  let exited = false;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, sig) => { exited = true; resolve({ code, sig }); }));

  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not start in ${timeoutMs} ms; log: ${logFile}`)), timeoutMs);
    const check = () => {
      const m = /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(text);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    exitPromise.then(({ code, sig }) => { clearTimeout(timer); reject(new Error(`code-server exited (${code ?? sig}) before listening; log: ${logFile}\n${text.slice(-2000)}`)); });
  });

  async function stop() {
    if (!exited) {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
      const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await exitPromise;
      clearTimeout(t);
      // The extension host may outlive its parent by a moment; the group kill reaches it too.
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    await new Promise((r) => logStream.end(r));
  }

  return { port, baseUrl: `http://localhost:${port}`, userDataDir, logFile, child, stop, output: () => text };
}

export function removeDir(dir) {
  try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
}

/** The web build autosaves, so every run works on its own copy of the notebooks. */
export function makeWorkspace(files, prefix = 'tl-ws-') {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const f of files) cpSync(f, path.join(dir, path.basename(f)), { recursive: true });
  return dir;
}

/** Builds the bundles the extension loads (those whose entry file exists yet). */
export function buildExtension({ minify = false, log = console.log } = {}) {
  const entries = { extension: 'src/extension.ts', kernel: 'src/runtime/main.ts', renderers: 'renderers/main.ts' };
  if (!existsSync(path.join(repoRoot, entries.extension))) throw new Error('src/extension.ts does not exist yet: nothing to test');
  const names = Object.keys(entries).filter((n) => existsSync(path.join(repoRoot, entries[n])));
  const missing = Object.keys(entries).filter((n) => !names.includes(n));
  if (missing.length) log(`build: skipping ${missing.join(', ')} (no entry file yet)`);
  const r = spawnSync(process.execPath, ['esbuild.mjs', ...names, ...(minify ? ['--minify'] : [])], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`node esbuild.mjs ${names.join(' ')} failed (exit ${r.status})`);
}

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Headless Debian Chromium through playwright-core (Playwright's own browsers cannot be downloaded here). */
export async function launchChromium() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (see .ci/apt-packages.txt)`);
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

// --- CLI
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [cmd = 'install', folder] = process.argv.slice(2);
  if (cmd === 'install') {
    await installCodeServer({ force: process.argv.includes('--force') });
  } else if (cmd === 'start') {
    await installCodeServer();
    const cs = await startCodeServer({ folder: folder && path.resolve(folder), log: (l) => console.log(l) });
    console.log(`code-server ready: ${cs.baseUrl}  (user data: ${cs.userDataDir})`);
    const end = async () => { await cs.stop(); process.exit(0); };
    process.on('SIGINT', end);
    process.on('SIGTERM', end);
  } else {
    console.error('usage: node scripts/code-server.mjs install [--force] | start [folder]');
    process.exit(2);
  }
}
