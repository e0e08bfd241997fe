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
