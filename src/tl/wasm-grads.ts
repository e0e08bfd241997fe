/**
 * Gradient kernels that tfjs-backend-wasm 4.22 does not ship, so that conv nets can train on WASM.
 *
 * Without them, fitting any Conv2D / DepthwiseConv2D model on 'wasm' throws
 * "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'". Each kernel here copies its
 * inputs out of the WASM heap, runs the cpu backend's own registered kernel, and copies the result
 * back into a WASM-owned output. That costs two copies per call but keeps the maths identical to
 * the cpu backend (a native SIMD kernel would be faster; none exists in 4.22).
 */
import * as tf from '@tensorflow/tfjs';

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

/** The parts of the wasm backend we touch (its class is not exported in a typed way from tfjs). */
interface WasmBackendLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}

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

function delegateToCpu(kernelName: string): tf.KernelConfig {
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

/**
 * Registers the missing WASM gradient kernels; returns the names it added. Safe to call any number of
 * times, before or after the wasm backend starts. (The kernel process's WASM set-up — .wasm paths,
 * single thread — lives in src/runtime/nodeHost.ts, which takes this function as its callback.)
 */
export function registerWasmGradients(): string[] {
  const added: string[] = [];
  for (const name of WASM_MISSING_GRADIENT_KERNELS) {
    if (tf.getKernel(name, 'wasm')) continue;
    tf.registerKernel(delegateToCpu(name));
    added.push(name);
  }
  return added;
}
