import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diagnose, formatDoctor, type DoctorHost } from '../../src/client/doctor';

function host(over: Partial<DoctorHost> & { outputs?: Record<string, string> }): DoctorHost {
  return { platform: 'linux', env: {}, run: (cmd) => over.outputs?.[cmd], exists: () => false, ...over };
}

test('a machine without a driver or CUDA: every missing piece says what to install', () => {
  const d = diagnose(host({ outputs: { ldconfig: '\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6\n' } }));
  assert.deepEqual(d.gpus, []);
  assert.match(d.driverProblem!, /nvidia-smi was not found/);
  assert.deepEqual(d.libraries.filter((l) => l.found), []);
  const text = formatDoctor(d);
  assert.match(text, /`libcudart\.so\.11\.0` \| CUDA 11 runtime \| \*\*missing\*\* — Install the CUDA 11\.2 toolkit/);
  assert.match(text, /`libcudnn\.so\.8` \| cuDNN 8 \| \*\*missing\*\* — Install cuDNN 8\.1/);
  assert.match(text, /cannot run here/);
});

test('a GPU machine with CUDA 12 only: the driver is found, the CUDA 11 runtime is not', () => {
  const ldconfig = [
    '\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1',
    '\tlibcudart.so.12 (libc6,x86-64) => /usr/local/cuda-12/lib64/libcudart.so.12',
  ].join('\n');
  const d = diagnose(host({ outputs: { 'nvidia-smi': 'NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB\n', ldconfig } }));
  assert.deepEqual(d.gpus, ['NVIDIA H100 80GB HBM3 (81559 MiB)']);
  assert.equal(d.driver, '550.54.15');
  const byLib = Object.fromEntries(d.libraries.map((l) => [l.lib, l.found]));
  assert.equal(byLib['libcuda.so.1'], '/usr/lib/x86_64-linux-gnu/libcuda.so.1');
  assert.equal(byLib['libcudart.so.11.0'], undefined);
});

test('libraries on LD_LIBRARY_PATH count as found, and a full set says so', () => {
  const libs = ['libcuda.so.1', 'libcudart.so.11.0', 'libcublas.so.11', 'libcufft.so.10', 'libcudnn.so.8'];
  const d = diagnose(
    host({
      env: { LD_LIBRARY_PATH: '/opt/cuda/lib64' },
      outputs: { 'nvidia-smi': 'Tesla T4, 470.1, 15360 MiB\n', ldconfig: '' },
      exists: (f) => libs.some((l) => f === `/opt/cuda/lib64/${l}`),
    }),
  );
  assert.ok(d.libraries.every((l) => l.found));
  assert.match(formatDoctor(d), /Everything tfjs-node-gpu needs is present/);
});

test('the report lists the engines: what runs and from where, or why not and where it was looked for, each place once', () => {
  const device = {
    kind: 'device' as const,
    version: 1 as const,
    backend: 'wasm',
    device: 'CPU (WebAssembly, SIMD, 1 thread)',
    requestedBy: 'auto',
    requested: 'auto',
    skipped: [],
    node: 'v20',
    platform: 'linux-x64',
    engines: [
      { engine: 'onnxruntime' as const, ok: true, summary: 'ONNX Runtime: onnxruntime-node 1.30.0', details: ['webgpu: skipped — only a software adapter (llvmpipe)', 'cpu: used'], from: '/ext/dist/node_modules/onnxruntime-node' },
      { engine: 'decoder' as const, ok: false, summary: 'Image decoder: js', details: [], reason: 'sharp is not installed (looked in /ext/dist/node_modules, /ws/node_modules).', lookedIn: ['/ext/dist/node_modules', '/ws/node_modules'] },
      { engine: 'webgpu' as const, ok: false, summary: 'WebGPU: no adapter', details: [], reason: 'Dawn found no WebGPU adapter', lookedIn: ['/ext/dist/node_modules'] },
    ],
  };
  const text = formatDoctor(diagnose(host({})), device);
  assert.match(text, /\| onnxruntime \| ONNX Runtime: onnxruntime-node 1\.30\.0 \| webgpu: skipped — only a software adapter \(llvmpipe\)<br>cpu: used<br>from `\/ext\/dist\/node_modules\/onnxruntime-node` \|/);
  const decoderRow = text.split('\n').find((l) => l.startsWith('| decoder'))!;
  assert.match(decoderRow, /\*\*missing\*\*/);
  // The folders are already in the reason: not listed a second time.
  assert.equal(decoderRow.split('/ws/node_modules').length - 1, 1);
  assert.match(text.split('\n').find((l) => l.startsWith('| webgpu'))!, /looked in: `\/ext\/dist\/node_modules`/);
  assert.match(text, /## GPU without CUDA 11\.2/);
  assert.match(text, /WebGPU on Linux and Windows when Dawn sees a hardware adapter/);
});
