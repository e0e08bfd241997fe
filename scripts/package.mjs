// Builds VS Code platform-specific packages (`vsce package --target`) from the minified bundles.
//
//   node scripts/package.mjs [--target <t>]... [--out <file>] [--keep-stage]
//
// A platform package carries that platform's native engines in dist/node_modules, beside the
// bundles that load them: onnxruntime-node (its binaries for that platform only), sharp with its
// @img/sharp-<platform> and libvips packages, and Dawn's dawn.node from the `webgpu` package. The
// universal package carries none, and its report explains how to get them. With no --target: the
// current platform's package plus the universal one. --out names the file when one target is built.
//
// Everything comes from node_modules, except the @img packages of other platforms, which are
// fetched once with `npm pack` (the npm registry) into .package/cache and checked against the
// integrity hashes in package-lock.json; after that every target builds offline.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkVsix, TARGETS } from './vsix-contents.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const nodeModules = path.join(root, 'node_modules');
const work = path.join(root, '.package');
const cacheDir = path.join(work, 'cache');

function parseArgs(argv) {
  const targets = [];
  let out;
  let keepStage = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--target') targets.push(argv[++i]);
    else if (argv[i].startsWith('--target=')) targets.push(argv[i].slice(9));
    else if (argv[i] === '--out') out = argv[++i];
    else if (argv[i] === '--keep-stage') keepStage = true;
    else throw new Error(`package: unknown argument '${argv[i]}' (use --target <${[...Object.keys(TARGETS), 'universal'].join('|')}>, --out <file>)`);
  }
  for (const t of targets) {
    if (t !== 'universal' && !TARGETS[t]) throw new Error(`package: unknown target '${t}' (known: ${[...Object.keys(TARGETS), 'universal'].join(', ')})`);
  }
  return { targets, out, keepStage };
}

function hostTarget() {
  const t = `${process.platform}-${process.arch}`;
  return TARGETS[t] ? t : undefined;
}

function version(name) {
  return JSON.parse(readFileSync(path.join(nodeModules, name, 'package.json'), 'utf8')).version;
}

/** Source maps and type declarations are of no use at run time. */
const runtimeOnly = (src) => !/\.(map|d\.ts|d\.mts|d\.cts)$/.test(src);

/** Copies the listed entries (files or folders, relative to the package) of an installed package. */
function copyPackage(name, dest, entries) {
  const from = path.join(nodeModules, name);
  if (!existsSync(from)) throw new Error(`package: ${name} is not installed in node_modules (run npm ci)`);
  for (const e of entries) {
    const src = path.join(from, e);
    if (!existsSync(src)) continue;
    cpSync(src, path.join(dest, name, e), { recursive: true, filter: runtimeOnly });
  }
}

/** An @img package for any platform: from node_modules when installed here, else from the registry once. */
function imgPackage(name, dest) {
  const lockEntry = lock.packages[`node_modules/${name}`];
  if (!lockEntry) throw new Error(`package: ${name} is not in package-lock.json`);
  const installed = path.join(nodeModules, name, 'package.json');
  if (existsSync(installed) && JSON.parse(readFileSync(installed, 'utf8')).version === lockEntry.version) {
    cpSync(path.join(nodeModules, name), path.join(dest, name), { recursive: true, filter: runtimeOnly });
    return;
  }
  const tgz = fetchTarball(name, lockEntry);
  const to = path.join(dest, name);
  mkdirSync(to, { recursive: true });
  execFileSync('tar', ['xzf', tgz, '-C', to, '--strip-components=1'], { stdio: 'inherit' });
}

function fetchTarball(name, lockEntry) {
  mkdirSync(cacheDir, { recursive: true });
  const file = path.join(cacheDir, `${name.replace('@', '').replace('/', '-')}-${lockEntry.version}.tgz`);
  if (!existsSync(file)) {
    console.log(`fetching ${name}@${lockEntry.version} from the npm registry (once; cached in ${path.relative(root, cacheDir)})`);
    const json = execFileSync('npm', ['pack', `${name}@${lockEntry.version}`, '--json', '--pack-destination', cacheDir], { cwd: cacheDir, encoding: 'utf8' });
    const packed = path.join(cacheDir, JSON.parse(json)[0].filename);
    if (packed !== file) {
      cpSync(packed, file);
      rmSync(packed);
    }
  }
  const [algo, want] = lockEntry.integrity.split('-');
  const got = createHash(algo).update(readFileSync(file)).digest('base64');
  if (got !== want) {
    rmSync(file);
    throw new Error(`package: ${name}@${lockEntry.version} does not match the integrity in package-lock.json; the cached tarball was removed`);
  }
  return file;
}

/** dist/node_modules of a platform package: the engines for that platform, nothing for others. */
function stageEngines(target, dest) {
  const t = TARGETS[target];
  copyPackage('onnxruntime-node', dest, ['package.json', 'README.md', 'LICENSE', 'dist', `bin/napi-v6/${t.ort}`]);
  copyPackage('onnxruntime-common', dest, ['package.json', 'README.md', 'LICENSE', 'dist/cjs']);
  copyPackage('sharp', dest, ['package.json', 'LICENSE', 'README.md', 'dist']);
  for (const dep of ['detect-libc', 'semver', '@img/colour']) cpSync(path.join(nodeModules, dep), path.join(dest, dep), { recursive: true, filter: runtimeOnly });
  for (const name of t.sharp) imgPackage(name, dest);
  copyPackage('webgpu', dest, ['package.json', 'LICENSE.md', 'README.md', 'index.js', `dist/${t.dawn}`]);
  return {
    'onnxruntime-node': version('onnxruntime-node'),
    sharp: version('sharp'),
    webgpu: version('webgpu'),
  };
}

/**
 * The benchmark harness, so that a GPU machine needs only the platform package: unpack it and run
 * `bash extension/bench/gpu.sh` (it uses the package's own engines; no node_modules, no network).
 */
async function stageBench(dir) {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [path.join(root, 'bench', 'bench.ts')],
    outfile: path.join(dir, 'dist', 'bench.js'),
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    legalComments: 'none',
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'sharp', 'onnxruntime-node'],
  });
  mkdirSync(path.join(dir, 'bench'), { recursive: true });
  for (const f of ['gpu.sh', 'torch_bench.py']) cpSync(path.join(root, 'bench', f), path.join(dir, 'bench', f));
}

/** A folder vsce packages from: the manifest, docs, bundles, media, samples and, per target, the engines. */
async function stage(target) {
  const dir = path.join(work, 'stage', target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', '.vscodeignore']) {
    if (existsSync(path.join(root, f))) cpSync(path.join(root, f), path.join(dir, f));
  }
  for (const d of ['dist', 'media', 'samples']) {
    cpSync(path.join(root, d), path.join(dir, d), { recursive: true, filter: (src) => !src.endsWith('.map') && !src.includes(`${path.sep}node_modules`) });
  }
  const engines = target === 'universal' ? {} : stageEngines(target, path.join(dir, 'dist', 'node_modules'));
  if (target !== 'universal') await stageBench(dir);
  writeFileSync(path.join(dir, 'dist', 'engines.json'), JSON.stringify({ target, version: pkg.version, engines }, null, 2) + '\n');
  return dir;
}

function vsce(cwd, target, out) {
  const bin = path.join(path.dirname(require.resolve('@vscode/vsce/package.json')), 'vsce');
  const args = [bin, 'package', '--no-dependencies', '--out', out];
  if (target !== 'universal') args.push('--target', target);
  execFileSync(process.execPath, args, { cwd, stdio: 'inherit' });
}

function outFile(target, out, single) {
  if (out && single) return path.resolve(out);
  const dir = out ? path.resolve(out) : root;
  return path.join(dir, target === 'universal' ? `${pkg.name}-${pkg.version}.vsix` : `${pkg.name}-${target}-${pkg.version}.vsix`);
}

async function main() {
  const { targets: asked, out, keepStage } = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(root, 'dist', 'kernel.js'))) throw new Error('package: dist/ is not built (npm run package builds it first)');
  const host = hostTarget();
  const targets = asked.length ? asked : out ? [host ?? 'universal'] : [...(host ? [host] : []), 'universal'];
  const built = [];
  for (const target of targets) {
    const t0 = Date.now();
    const dir = await stage(target);
    const file = outFile(target, out, targets.length === 1);
    mkdirSync(path.dirname(file), { recursive: true });
    vsce(dir, target, file);
    const problems = checkVsix(file, target);
    if (!keepStage) rmSync(dir, { recursive: true, force: true });
    const size = statSync(file).size;
    built.push({ target, file, size, problems, seconds: (Date.now() - t0) / 1000 });
  }
  console.log('\npackage                                   target         size');
  for (const b of built) console.log(`${path.relative(process.cwd(), b.file).padEnd(42)}${b.target.padEnd(15)}${(b.size / 1024 / 1024).toFixed(2)} MiB (${b.size} bytes, ${b.seconds.toFixed(0)} s)`);
  const bad = built.filter((b) => b.problems.length);
  for (const b of bad) console.error(`\n${path.basename(b.file)}:\n  ${b.problems.join('\n  ')}`);
  if (bad.length) process.exit(1);
}

await main();
