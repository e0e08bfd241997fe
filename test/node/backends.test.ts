import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainLoadError, selectBackend, type LoaderHost, type TfLike } from '../../src/runtime/backends';

/** A fake TF.js that records which backend is active. */
function fakeTf(registered: string[]): TfLike & { active: string } {
  const tf = {
    active: 'none',
    version: { 'tfjs-core': '4.22.0' },
    async setBackend(name: string) {
      if (!registered.includes(name)) return false;
      tf.active = name;
      return true;
    },
    async ready() {},
    getBackend: () => tf.active,
    findBackend: (n: string) => (registered.includes(n) ? {} : undefined),
    registerBackend: () => true,
  };
  return tf;
}

// Error texts as Node and tfjs-node-gpu 4.22 print them on machines without CUDA or libtensorflow.
const CUDART = 'libcudart.so.11.0: cannot open shared object file: No such file or directory';
const NO_BINDING =
  "The Node.js native addon module (tfjs_binding.node) can not be found at path: /ws/node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v8/tfjs_binding.node. \nPlease run command 'npm rebuild @tensorflow/tfjs-node-gpu --build-addon-from-source' to rebuild the native addon module.";

function host(overrides: Partial<LoaderHost> & { installed?: Record<string, string> }): LoaderHost {
  return {
    resolve: (pkg) => overrides.installed?.[pkg],
    load: () => {
      throw new Error('unexpected load');
    },
    prepareWasm: async () => {},
    prepareWebGpu: async () => ({ description: 'llvmpipe (LLVM 15)', software: true }),
    gpuName: () => undefined,
    ...overrides,
  };
}

const base = { requested: 'auto' as const, requestedBy: 'auto', gpuSearchPaths: ['/settings', '/ws'], searchPaths: ['/ws'] };

test('auto picks wasm when nothing native is installed, and says why each was skipped', async () => {
  const tf = fakeTf(['wasm', 'cpu']);
  const { report } = await selectBackend(tf, host({}), base);
  assert.equal(report.backend, 'wasm');
  const reasons = Object.fromEntries(report.skipped.map((s) => [s.backend, s.reason]));
  assert.match(reasons['tensorflow-gpu'], /^not installed \(looked in \/settings, \/ws\)/);
  assert.match(reasons['tensorflow'], /^not installed/);
  assert.match(reasons['webgpu'], /not installed: the `webgpu` package/);
});

test('tfjs-node-gpu without CUDA: the reason names libcudart and the versions, with the loader error attached', async () => {
  const tf = fakeTf(['wasm', 'cpu']);
  const err = Object.assign(new Error(CUDART), { code: 'ERR_DLOPEN_FAILED' });
  const { report } = await selectBackend(
    tf,
    host({
      installed: { '@tensorflow/tfjs-node-gpu': '/ws/node_modules/@tensorflow/tfjs-node-gpu/dist/index.js' },
      load: () => {
        throw err;
      },
    }),
    base,
  );
  const gpu = report.skipped.find((s) => s.backend === 'tensorflow-gpu')!;
  assert.equal(gpu.reason, 'libcudart.so.11.0 not found — tfjs-node-gpu 4.x needs CUDA 11.2 and cuDNN 8.1 (libtensorflow 2.9.1)');
  assert.equal(gpu.error, CUDART);
});

test('tfjs-node-gpu whose libtensorflow download failed', () => {
  assert.match(explainLoadError('tensorflow-gpu', new Error(NO_BINDING)), /native addon \(tfjs_binding\.node\) is missing .* `npm rebuild @tensorflow\/tfjs-node-gpu`/);
  assert.match(explainLoadError('tensorflow-gpu', new Error('libcudnn.so.8: cannot open shared object file: No such file or directory')), /^libcudnn\.so\.8 not found — .*cuDNN 8\.1/);
  assert.match(explainLoadError('tensorflow', new Error('The module was compiled against a different Node.js version using NODE_MODULE_VERSION 115')), /another Node\.js version/);
});

test('a working tfjs-node-gpu wins and names the GPU', async () => {
  const tf = fakeTf(['wasm', 'cpu']);
  const { report } = await selectBackend(
    tf,
    host({
      installed: { '@tensorflow/tfjs-node-gpu': '/x/index.js' },
      load: () => {
        tf.registerBackend = () => true;
        (tf as any).findBackend = (n: string) => (['tensorflow', 'wasm', 'cpu'].includes(n) ? {} : undefined);
        (tf as any).setBackend = async (n: string) => ((tf.active = n), true);
        return {};
      },
      gpuName: () => 'NVIDIA H100 80GB HBM3, 81559 MiB',
    }),
    base,
  );
  assert.equal(report.backend, 'tensorflow');
  assert.equal(report.device, 'CUDA GPU: NVIDIA H100 80GB HBM3, 81559 MiB');
  assert.deepEqual(report.skipped, []);
});

test('a software WebGPU adapter is skipped in auto and used when forced', async () => {
  const installed = { webgpu: '/ws/node_modules/webgpu/index.js' };
  const h = host({ installed, load: () => ({}) });
  const auto = await selectBackend(fakeTf(['webgpu', 'wasm', 'cpu']), h, base);
  assert.equal(auto.report.backend, 'wasm');
  assert.match(auto.report.skipped.find((s) => s.backend === 'webgpu')!.reason, /software adapter \(llvmpipe/);
  const forced = await selectBackend(fakeTf(['webgpu', 'wasm', 'cpu']), h, { ...base, requested: 'webgpu', requestedBy: 'setting transferLab.backend' });
  assert.equal(forced.report.backend, 'webgpu');
  assert.equal(forced.report.requestedBy, 'setting transferLab.backend');
  assert.match(forced.report.skipped.find((s) => s.backend === 'tensorflow-gpu')!.reason, /not tried: setting transferLab.backend asks for webgpu/);
});

test('a forced backend that fails falls back to the ones after it, with the reason', async () => {
  const tf = fakeTf(['cpu']);
  const { report } = await selectBackend(
    tf,
    host({
      prepareWasm: async () => {
        throw new Error('wasm file missing');
      },
    }),
    { ...base, requested: 'wasm', requestedBy: 'notebook metadata' },
  );
  assert.equal(report.backend, 'cpu');
  assert.equal(report.skipped.find((s) => s.backend === 'wasm')!.error, 'wasm file missing');
});
