/**
 * Gradient kernels that tfjs-backend-wasm 4.22 does not ship, so that conv nets can train on WASM.
 *
 * Without them, fitting any Conv2D / DepthwiseConv2D model on 'wasm' throws
 * "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'". The simple way to supply them
 * (cpuDelegatingKernel) copies the inputs out of the WASM heap, runs the cpu backend's own kernel
 * and copies the result back. That keeps the maths identical to the cpu backend but is very slow:
 * the cpu Conv2DBackpropFilter walks the tensors element by element (49 of 51 s of a MobileNetV2
 * fine-tune step at 96 px).
 *
 * So the three conv backprops are rebuilt from kernels the wasm backend does have (XNNPACK or its
 * C++ kernels): slices, transposes, matrix products, a depthwise convolution. Cases they do not
 * handle (NCHW, dilation > 1, a depthwise pad wider than its kernel) still go to the cpu kernels.
 * UnsortedSegmentSum (an Embedding layer's gradient) stays on the cpu kernel: it is cheap there.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropInput, depthwiseBackpropInput } from './wasm-kernels/inputGrads';
import { registerClipGrad } from './wasm-kernels/clipGrad';
import { registerAdamKernel } from './wasm-kernels/adam';
import { wasmMatMul } from './wasm-kernels/matMul';
import { sharedIdentity } from './wasm-kernels/identity';
import { conv2dBackpropFilter, depthwiseBackpropFilter } from './wasm-kernels/filterGrads';
import type { KernelArgs, TI, WasmBackendLike } from './wasm-kernels/scratch';

/**
 * Kernels the wasm backend lacks that training needs. Found by diffing
 * tf.getKernelsForBackend('cpu') against 'wasm' and fitting conv, depthwise, separable, BN and
 * embedding models on wasm: the conv/depthwise backprops are hit by every conv net, and
 * UnsortedSegmentSum is the gradient of Gather (an Embedding layer's lookup).
 */
export const WASM_MISSING_GRADIENT_KERNELS = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'UnsortedSegmentSum',
] as const;

interface CpuBackendLike {
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): object;
  readSync(dataId: object): tf.backend_util.BackendValues;
  disposeData(dataId: object, force?: boolean): boolean;
  firstUse?: boolean;
}

let cpuBackend: CpuBackendLike | undefined;

function getCpuBackend(): CpuBackendLike {
  if (cpuBackend) return cpuBackend;
  const b = tf.findBackend('cpu') as unknown as CpuBackendLike | null;
  if (!b) throw new Error('registerWasmGradients: the tfjs cpu backend is not available to run the missing WASM kernels.');
  // The cpu backend prints "looks like you are running TensorFlow.js in Node.js…" on its first
  // write; here it only borrows the cpu kernels for a wasm run, so that advice would mislead.
  b.firstUse = false;
  cpuBackend = b;
  return b;
}

/**
 * The cpu-delegating kernel for `kernelName` on wasm. Exported so that tests and benchmarks can
 * measure it against the fast path; registerWasmGradients() uses it only as a fallback.
 */
export function cpuDelegatingKernel(kernelName: string): tf.KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as unknown as WasmBackendLike;
      const cpu = getCpuBackend();
      const cpuKernel = tf.getKernel(kernelName, 'cpu');
      if (!cpuKernel) throw new Error(`registerWasmGradients: the cpu backend has no '${kernelName}' kernel to delegate to.`);
      const written: object[] = [];
      const cpuInputs: tf.NamedTensorInfoMap = {};
      try {
        for (const [name, info] of Object.entries(inputs)) {
          if (!info) continue;
          const dataId = cpu.write(wasm.readSync(info.dataId), info.shape, info.dtype);
          written.push(dataId);
          cpuInputs[name] = { dataId, shape: info.shape, dtype: info.dtype };
        }
        const result = cpuKernel.kernelFunc({
          inputs: cpuInputs,
          backend: cpu as unknown as tf.KernelBackend,
          attrs,
        });
        const outs = Array.isArray(result) ? result : [result];
        const wasmOuts = outs.map((o) => {
          const values = cpu.readSync(o.dataId);
          cpu.disposeData(o.dataId, true);
          const out = wasm.makeOutput(o.shape, o.dtype);
          // Zero-size outputs have no heap view to fill.
          if (tf.util.sizeFromShape(o.shape) > 0) wasm.typedArrayFromHeap(out).set(values as tf.backend_util.TypedArray);
          return out;
        });
        return Array.isArray(result) ? wasmOuts : wasmOuts[0];
      } finally {
        for (const id of written) cpu.disposeData(id, true);
      }
    },
  };
}

// --- Fast paths built from the wasm backend's own kernels.

const FAST: Record<string, (args: KernelArgs) => TI | null> = {
  Conv2DBackpropFilter: conv2dBackpropFilter,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
};

/** The fast wasm kernel for `kernelName`, falling back to the cpu kernel where it returns null; undefined when there is none. */
export function fastWasmKernel(kernelName: string): tf.KernelConfig | undefined {
  const fast = FAST[kernelName];
  if (!fast) return undefined;
  const fallback = cpuDelegatingKernel(kernelName);
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: (args) => fast(args) ?? fallback.kernelFunc(args),
  };
}

/**
 * Native wasm kernels that exist but are slow, replaced by ones built from XNNPACK kernels; the
 * native kernel stays as the fallback. tfjs-backend-wasm's Conv2DBackpropInput is a plain loop:
 * 3.5 of 8 s of a 224 px MobileNetV2 fine-tune step (last 3 blocks) in one profile. So is its
 * BatchMatMul with a transposed operand: a Dense head's backward pass, 3.1 of 5 s of 6 epochs of
 * a Dense(128) head on 1280-d embeddings (wasm-kernels/matMul.ts); and under a gradient tape its
 * untransposed products repack a weight that is new every step (wasm-kernels/gemm.ts). Identity
 * copies its input; the tape's clones need not (wasm-kernels/identity.ts).
 */
const REPLACED: Record<string, (args: KernelArgs) => TI | null> = {
  Conv2DBackpropInput: conv2dBackpropInput,
  BatchMatMul: wasmMatMul,
  Identity: sharedIdentity,
};
const OURS = Symbol.for('transfer-lab.wasm-kernel');

function replaceNative(name: string): boolean {
  const native = tf.getKernel(name, 'wasm');
  if (!native || (native.kernelFunc as { [OURS]?: boolean })[OURS]) return false;
  const fast = REPLACED[name];
  const kernelFunc: tf.KernelFunc = (args) => fast(args) ?? native.kernelFunc(args);
  Object.defineProperty(kernelFunc, OURS, { value: true });
  tf.unregisterKernel(name, 'wasm');
  // The native kernel's set-up (binding its wasm export) must still run when the backend starts.
  tf.registerKernel({ ...native, kernelFunc });
  return true;
}

/**
 * Registers the missing WASM gradient kernels and replaces the slow native ones; returns the names
 * it added or replaced. Safe to call any number of times, before or after the wasm backend starts.
 * (The kernel process's WASM set-up — .wasm paths, single thread — lives in src/runtime/nodeHost.ts,
 * which takes this function as its callback.)
 */
export function registerWasmGradients(): string[] {
  const added: string[] = [];
  for (const name of WASM_MISSING_GRADIENT_KERNELS) {
    if (tf.getKernel(name, 'wasm')) continue;
    tf.registerKernel(fastWasmKernel(name) ?? cpuDelegatingKernel(name));
    added.push(name);
  }
  for (const name of Object.keys(REPLACED)) if (replaceNative(name)) added.push(name);
  if (registerClipGrad()) added.push('ClipByValue gradient');
  if (registerAdamKernel()) added.push('Adam step');
  return added;
}
