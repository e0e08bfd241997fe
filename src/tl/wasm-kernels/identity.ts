/**
 * Identity on wasm without a copy. The gradient tape clones every tensor a backward pass needs
 * (tf.clone is the Identity kernel), and tfjs-backend-wasm 4.22 copies the data each time: 32
 * copies per step of a Dense head, the layer's whole weight matrix among them. Tensors are
 * immutable (a variable's assign swaps in new data), so the clone can share the data and count a
 * reference, as wasm's own Reshape and the cpu backend's Identity do.
 */
import type { KernelArgs, TI } from './scratch';

interface RefCounting {
  incRef(dataId: object): void;
}

/** The shared clone of a numeric tensor; null for strings (left to the native kernel). */
export function sharedIdentity(args: KernelArgs): TI | null {
  const { x } = args.inputs as { x: TI };
  if (x.dtype === 'string') return null;
  (args.backend as unknown as RefCounting).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
