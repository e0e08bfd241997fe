/** Where native engines are looked for: the extension's own folder first unless the workspace should win, each place once. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { ancestorModuleDirs, configureEngines, engineDirs, findEngine, missingReason, ownRoot, ownVersion, packageManifest, requireEngine } from '../../src/tl/engines';
import { makeNodeLoaderHost } from '../../src/runtime/nodeHost';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tl-engines-'));
}

function fakePackage(nodeModules: string, name: string, version: string): void {
  fs.mkdirSync(path.join(nodeModules, name), { recursive: true });
  fs.writeFileSync(path.join(nodeModules, name, 'package.json'), JSON.stringify({ name, version, main: 'index.js' }));
  fs.writeFileSync(path.join(nodeModules, name, 'index.js'), `module.exports = { version: '${version}' };`);
}

test('the extension folder comes first by default; the workspace first when asked; each folder once', () => {
  const ext = tmp();
  const ws = tmp();
  const env: NodeJS.ProcessEnv = {};
  // The notebook sits at the workspace's top: the same folder twice must be searched once.
  configureEngines({ workspaceDirs: [ws, ws, path.join(ws, 'node_modules')] }, env);
  const above = ancestorModuleDirs(path.dirname(ws)); // Node's walk up from the workspace
  assert.deepEqual(engineDirs(env, ext), [path.join(ext, 'dist', 'node_modules'), path.join(ext, 'node_modules'), path.join(ws, 'node_modules'), ...above]);
  configureEngines({ workspaceDirs: [ws], preferWorkspace: true }, env);
  assert.deepEqual(engineDirs(env, ext), [path.join(ws, 'node_modules'), ...above, path.join(ext, 'dist', 'node_modules'), path.join(ext, 'node_modules')]);
  // A later configure without an opinion keeps the order the environment already says (a decode worker, a child process).
  configureEngines({ workspaceDirs: [ws] }, env);
  assert.equal(env.TRANSFER_LAB_ENGINES, 'workspace');
});

test('findEngine takes the first folder that has the package, whatever the others hold', () => {
  const a = path.join(tmp(), 'node_modules');
  const b = path.join(tmp(), 'node_modules');
  fakePackage(a, 'sharp', '1.0.0');
  fakePackage(b, 'sharp', '2.0.0');
  assert.equal(findEngine('sharp', [a, b])?.version, '1.0.0');
  assert.equal(findEngine('sharp', [b, a])?.version, '2.0.0');
  assert.equal(findEngine('webgpu', [a, b]), undefined);
});

test('findEngine looks only where it is told: a node_modules folder, a folder holding one, or the package itself', () => {
  const project = tmp();
  fakePackage(path.join(project, 'node_modules'), 'webgpu', '0.6.2');
  const nested = path.join(project, 'sub');
  fs.mkdirSync(nested);
  const entry = path.join(project, 'node_modules', 'webgpu', 'index.js');
  assert.equal(findEngine('webgpu', [path.join(project, 'node_modules')])?.entry, entry);
  assert.equal(findEngine('webgpu', [project])?.entry, entry);
  assert.equal(findEngine('webgpu', [path.join(project, 'node_modules', 'webgpu')])?.entry, entry);
  // The ancestor walk is engineDirs' job: findEngine looks in the places it is given, so the report's "looked in" list is the whole truth.
  assert.equal(findEngine('webgpu', [nested]), undefined);
});

test('a missing engine says where it was looked for, and in the universal package how to get it', () => {
  const ext = tmp();
  fs.mkdirSync(path.join(ext, 'dist'), { recursive: true });
  fs.writeFileSync(path.join(ext, 'package.json'), JSON.stringify({ name: 'transfer-lab', version: '9.9.9' }));
  assert.equal(ownRoot(path.join(ext, 'dist')), ext);
  assert.equal(ownVersion(ownRoot(path.join(ext, 'dist'))), '9.9.9');
  assert.equal(packageManifest(ext), undefined);
  fs.writeFileSync(path.join(ext, 'dist', 'engines.json'), JSON.stringify({ target: 'universal', engines: {} }));
  assert.equal(packageManifest(ext)?.target, 'universal');
  const plain = missingReason('sharp', ['/a/node_modules', '/b/node_modules']);
  assert.match(plain, /sharp is not installed/);
  assert.match(plain, /looked in \/a\/node_modules, \/b\/node_modules/);
  const universal = missingReason('onnxruntime-node', ['/a/node_modules'], packageManifest(ext));
  assert.match(universal, /universal Transfer Lab package, which carries no native engines/);
  assert.match(universal, new RegExp(`transfer-lab-${process.platform}-${process.arch}-<version>\\.vsix`));
  assert.match(missingReason('webgpu', [], { target: 'win32-x64', engines: {} }), new RegExp(`built for win32-x64, and this machine is ${process.platform}-${process.arch}`));
});

test('an engine in a parent folder\'s node_modules is found, like Node finds it: a notebook in notebooks/, a monorepo, the CLI in a subfolder', () => {
  const ws = tmp();
  const notebooks = path.join(ws, 'notebooks');
  fs.mkdirSync(notebooks);
  fakePackage(path.join(ws, 'node_modules'), 'sharp', '7.7.7');
  const env: NodeJS.ProcessEnv = {};
  configureEngines({ workspaceDirs: [notebooks, ws], preferWorkspace: true }, env);
  const dirs = engineDirs(env, undefined);
  assert.deepEqual(dirs.slice(0, 2), [path.join(notebooks, 'node_modules'), path.join(ws, 'node_modules')]);
  assert.ok(dirs.includes(path.join(path.dirname(ws), 'node_modules')), 'the walk goes on up to the root, as Node\'s does');
  assert.equal(new Set(dirs).size, dirs.length, 'each place once');
  assert.equal(findEngine('sharp', dirs)?.version, '7.7.7');
});

test('backend selection and tl\'s engines load the one copy: the loader host resolves through the same lookup', () => {
  const ws = tmp();
  const sub = path.join(ws, 'sub');
  fs.mkdirSync(sub);
  fakePackage(path.join(ws, 'node_modules'), 'webgpu', '0.0.1-parent');
  const saved = { order: process.env.TRANSFER_LAB_ENGINES, dirs: process.env.TRANSFER_LAB_ENGINE_DIRS };
  try {
    configureEngines({ workspaceDirs: [sub], preferWorkspace: true });
    const viaTl = requireEngine<{ version: string }>('webgpu');
    assert.equal(viaTl.module?.version, '0.0.1-parent', viaTl.error);
    const viaHost = makeNodeLoaderHost().resolve('webgpu', engineDirs());
    assert.equal(viaHost, path.join(ws, 'node_modules', 'webgpu', 'index.js'));
    assert.equal(viaHost, viaTl.found?.entry);
  } finally {
    for (const [k, v] of [['TRANSFER_LAB_ENGINES', saved.order], ['TRANSFER_LAB_ENGINE_DIRS', saved.dirs]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    configureEngines({ workspaceDirs: [] }, {}); // only empties the loaded-engine cache
  }
});
