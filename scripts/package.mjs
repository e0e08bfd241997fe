// Builds the .vsix with @vscode/vsce from the minified bundles and prints its size and contents.
// Dependencies are bundled by esbuild, so vsce runs with --no-dependencies.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? process.argv[outArg + 1] : `${pkg.name}-${pkg.version}.vsix`;
mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
const vsce = path.join(path.dirname(require.resolve('@vscode/vsce/package.json')), 'vsce');
execFileSync(process.execPath, [vsce, 'package', '--no-dependencies', '--out', out], { stdio: 'inherit' });
const size = statSync(out).size;
console.log(`vsix: ${out} ${(size / 1024 / 1024).toFixed(2)} MiB (${size} bytes)`);
