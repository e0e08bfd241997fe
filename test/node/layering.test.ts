/** Imports flow one way: only the extension-host layer imports vscode; renderers see only src/common. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(__dirname, '..', '..', '..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of src.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    specs.push(m[1] ?? m[2] ?? m[3]);
  }
  return specs;
}

const hostLayer = /^src\/(extension\.ts|kernel\/|commands\/)/;

test('only src/extension.ts, src/kernel and src/commands import vscode', () => {
  const offenders = files(path.join(root, 'src'))
    .map((f) => path.relative(root, f).split(path.sep).join('/'))
    .filter((f) => !hostLayer.test(f) && imports(path.join(root, f)).includes('vscode'));
  assert.deepEqual(offenders, []);
});

test('src/common imports nothing but itself', () => {
  for (const f of files(path.join(root, 'src', 'common'))) {
    for (const spec of imports(f)) assert.ok(spec.startsWith('./'), `${path.relative(root, f)} imports ${spec}`);
  }
});

test('renderers import only src/common, chart.js and each other', () => {
  for (const f of files(path.join(root, 'renderers'))) {
    for (const spec of imports(f)) {
      if (spec.startsWith('.')) {
        const target = path.relative(root, path.resolve(path.dirname(f), spec)).split(path.sep).join('/');
        assert.ok(target.startsWith('renderers/') || target.startsWith('src/common/'), `${path.relative(root, f)} imports ${spec}`);
      } else {
        assert.ok(/^chart\.js(\/|$)/.test(spec), `${path.relative(root, f)} imports ${spec}`);
      }
    }
  }
});

test('the extension host bundle never loads TF.js', () => {
  for (const f of files(path.join(root, 'src')).filter((f) => hostLayer.test(path.relative(root, f).split(path.sep).join('/')))) {
    for (const spec of imports(f)) {
      assert.ok(!/@tensorflow|\/tl(\/|$)|\/runtime(\/|$)/.test(spec), `${path.relative(root, f)} imports ${spec}`);
    }
  }
});

/** Where a relative import of `file` lands, as a path from the repository root. */
function target(file: string, spec: string): string {
  return path.relative(root, path.resolve(path.dirname(file), spec)).split(path.sep).join('/');
}

test('the tl core imports only itself and src/common', () => {
  for (const f of files(path.join(root, 'src', 'tl'))) {
    for (const spec of imports(f).filter((s) => s.startsWith('.'))) {
      const t = target(f, spec);
      assert.ok(t.startsWith('src/tl/') || t === 'src/tl' || t.startsWith('src/common/'), `${path.relative(root, f)} imports ${spec}`);
    }
  }
});

test('training builds on data, models, embeddings and onnx, never the other way round', () => {
  for (const dir of ['data', 'models', 'embeddings', 'onnx', 'util']) {
    for (const f of files(path.join(root, 'src', 'tl', dir))) {
      for (const spec of imports(f).filter((s) => s.startsWith('.'))) {
        assert.ok(!/^src\/tl\/train(\/|$)/.test(target(f, spec)), `${path.relative(root, f)} imports ${spec}`);
      }
    }
  }
});

test('tl/util depends on nothing else in tl', () => {
  for (const f of files(path.join(root, 'src', 'tl', 'util'))) {
    for (const spec of imports(f).filter((s) => s.startsWith('.'))) {
      const t = target(f, spec);
      assert.ok(t.startsWith('src/tl/util/') || t.startsWith('src/common/'), `${path.relative(root, f)} imports ${spec}`);
    }
  }
});
