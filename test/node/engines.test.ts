/** Where native engines are looked for: the extension's own folder first unless the workspace should win, each place once. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { configureEngines, engineDirs, findEngine, missingReason, ownRoot, packageManifest } from '../../src/tl/engines';
import { resolveIn } from '../../src/runtime/nodeHost';

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
  assert.deepEqual(engineDirs(env, ext), [path.join(ext, 'dist', 'node_modules'), path.join(ext, 'node_modules'), path.join(ws, 'node_modules')]);
  configureEngines({ workspaceDirs: [ws], preferWorkspace: true }, env);
  assert.deepEqual(engineDirs(env, ext), [path.join(ws, 'node_modules'), path.join(ext, 'dist', 'node_modules'), path.join(ext, 'node_modules')]);
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

test('resolveIn looks only where it is told: a node_modules folder, a folder holding one, or the package itself', () => {
  const project = tmp();
  fakePackage(path.join(project, 'node_modules'), 'webgpu', '0.6.2');
  const nested = path.join(project, 'sub');
  fs.mkdirSync(nested);
  assert.equal(resolveIn('webgpu', [path.join(project, 'node_modules')]), path.join(project, 'node_modules', 'webgpu', 'index.js'));
  assert.equal(resolveIn('webgpu', [project]), path.join(project, 'node_modules', 'webgpu', 'index.js'));
  assert.equal(resolveIn('webgpu', [path.join(project, 'node_modules', 'webgpu')]), path.join(project, 'node_modules', 'webgpu', 'index.js'));
  // Parents are not searched: the report's "looked in" list is the whole truth.
  assert.equal(resolveIn('webgpu', [nested]), undefined);
});

test('a missing engine says where it was looked for, and in the universal package how to get it', () => {
  const ext = tmp();
  fs.mkdirSync(path.join(ext, 'dist'), { recursive: true });
  fs.writeFileSync(path.join(ext, 'package.json'), JSON.stringify({ name: 'transfer-lab', version: '9.9.9' }));
  assert.equal(ownRoot(path.join(ext, 'dist')), ext);
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
