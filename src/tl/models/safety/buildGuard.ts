/**
 * A layers model.json describes layers, and TF.js creates (allocates) every layer's weights while it
 * builds the model, before it looks at the weight files. A hostile topology (a Dense layer with
 * 100000 × 100000 units) would allocate gigabytes there, or fail with "Invalid typed array length".
 * While a model from a file is built, each weight a layer is about to create is checked against what
 * the model may take, and refused with the layer's name before anything is allocated.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as tf from '@tensorflow/tfjs';
import { formatBytes } from './budget';

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, string: 4 };

interface Guard {
  left: number;
  /** Explains the limit in an error. */
  why: string;
  where: string;
  /** What this build created, to dispose when it fails. */
  created: tf.LayerVariable[];
}

// The guard of the load whose build is running: TF.js builds in a continuation of the load's own
// promise chain, so concurrent loads (and code outside any load) each see their own, or none.
const guards = new AsyncLocalStorage<Guard>();
let installed = false;

type AddWeight = (this: tf.layers.Layer, name: string, shape: tf.Shape, dtype?: tf.DataType, ...rest: unknown[]) => tf.LayerVariable;

/** Bytes a weight of `shape` takes, or a reason it cannot be created. */
function weightBytes(shape: unknown, dtype: string | undefined): number | string {
  if (!Array.isArray(shape)) return 'has no shape';
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return `has shape [${shape.join(', ')}], which is not a list of sizes`;
    n *= d;
  }
  return n * (DTYPE_BYTES[dtype ?? 'float32'] ?? 4);
}

function install(): void {
  if (installed) return;
  installed = true;
  const proto = tf.layers.Layer.prototype as unknown as { addWeight: AddWeight };
  const original = proto.addWeight;
  proto.addWeight = function (this: tf.layers.Layer, name, shape, dtype, ...rest) {
    const g = guards.getStore();
    if (g) {
      const bytes = weightBytes(shape, dtype);
      if (typeof bytes === 'string') throw new Error(`${g.where}: layer ${JSON.stringify(this.name)}: weight ${JSON.stringify(name)} ${bytes}.`);
      if (bytes > g.left) {
        throw new Error(
          `${g.where}: layer ${JSON.stringify(this.name)} (${this.getClassName()}) would create weight ${JSON.stringify(name)} of shape ` +
            `[${shape.join(', ')}] (${formatBytes(bytes)}), more than ${g.why}. The topology does not match its weights, or the model is too large.`,
        );
      }
      g.left -= bytes;
    }
    const v = original.call(this, name, shape, dtype, ...rest);
    g?.created.push(v);
    return v;
  };
  // TF.js decodes the weights, then finds them not matching the layers (a name or dtype): the
  // decoded tensors are then left allocated. Inside a guarded load they are disposed.
  const model = tf.LayersModel.prototype as unknown as { loadWeights(w: tf.NamedTensorMap, strict?: boolean): void };
  const loadWeights = model.loadWeights;
  model.loadWeights = function (this: tf.LayersModel, weights, strict) {
    try {
      return loadWeights.call(this, weights, strict);
    } catch (e) {
      if (guards.getStore()) tf.dispose(Object.values(weights));
      throw e;
    }
  };
}

/**
 * Runs `build` (which builds one layers model) with every weight a layer creates counted against
 * `maxBytes`. When the build fails (a weight refused here, or TF.js finding weights missing after
 * building every layer), the variables it created are disposed: TF.js leaves them registered.
 */
export async function withBuildGuard<T>(where: string, maxBytes: number, why: string, build: () => Promise<T>): Promise<T> {
  install();
  const guard: Guard = { left: maxBytes, why, where, created: [] };
  try {
    return await guards.run(guard, build);
  } catch (e) {
    for (const v of guard.created) {
      try {
        v.dispose();
      } catch {
        // already disposed by TF.js itself
      }
    }
    throw e;
  }
}
