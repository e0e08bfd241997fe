/**
 * The gradient of ClipByValue (ReLU6 in MobileNets) on wasm as one pass over the heap. tfjs's own
 * gradient is five kernels (greaterEqual, lessEqual, logicalAnd, zerosLike, where), each a full pass
 * over the activation: about 15 % of a 224 px MobileNetV2 fine-tune step in one profile. The values
 * are the same (dy where min ≤ x ≤ max, else 0); other backends keep tfjs's gradient.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelArgs, TI, WasmBackendLike } from './scratch';

const KERNEL = 'TransferLabClipByValueGrad';
const OURS = Symbol.for('transfer-lab.clip-grad');

function clipGrad(args: KernelArgs): TI {
  const { dy, x } = args.inputs as { dy: TI; x: TI };
  const { clipValueMin: lo, clipValueMax: hi } = args.attrs as unknown as { clipValueMin: number; clipValueMax: number };
  const b = args.backend as unknown as WasmBackendLike;
  const out = b.makeOutput(dy.shape, 'float32');
  // Views taken after makeOutput: an allocation may have grown (and moved) the heap.
  const d = b.typedArrayFromHeap(dy);
  const v = b.typedArrayFromHeap(x);
  const o = b.typedArrayFromHeap(out);
  for (let i = 0; i < o.length; i++) o[i] = v[i] >= lo && v[i] <= hi ? d[i] : 0;
  return out;
}

/** Registers the wasm kernel and routes ClipByValue's gradient to it on wasm; true when it did (once). */
export function registerClipGrad(): boolean {
  const original = tf.getGradient('ClipByValue');
  if (!original || (original as { [OURS]?: boolean })[OURS]) return false;
  if (!tf.getKernel(KERNEL, 'wasm')) tf.registerKernel({ kernelName: KERNEL, backendName: 'wasm', kernelFunc: clipGrad as unknown as tf.KernelFunc });
  const config: tf.GradConfig = {
    kernelName: 'ClipByValue',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const fallback = original.gradFunc(dy, saved, attrs);
      const dyT = dy as tf.Tensor;
      if (tf.getBackend() !== 'wasm' || dyT.dtype !== 'float32' || saved[0].dtype !== 'float32') return fallback;
      return { x: () => tf.engine().runKernel(KERNEL, { dy: dyT, x: saved[0] }, attrs) as tf.Tensor };
    },
  };
  Object.defineProperty(config, OURS, { value: true });
  tf.registerGradient(config);
  return true;
}
