/** Deterministic data shared by the ONNX tests. */
import * as tf from '@tensorflow/tfjs';

/** n values in [lo, hi) from a xorshift32 sequence seeded by `seed`. */
export function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo);
  }
  return a;
}

/** Gives every BatchNormalization non-trivial statistics, so folding has something to get wrong. */
export function randomiseBatchNorms(model: tf.LayersModel, seed: number): number {
  let k = 0;
  const visit = (layers: tf.layers.Layer[]) => {
    for (const l of layers) {
      const inner = (l as unknown as { layers?: tf.layers.Layer[] }).layers;
      if (inner) visit(inner);
      if (l.getClassName() !== 'BatchNormalization') continue;
      const ws = l.getWeights();
      const c = ws[0].shape[0];
      const cfg = l.getConfig() as { scale?: boolean; center?: boolean };
      const fresh: tf.Tensor[] = [];
      if (cfg.scale !== false) fresh.push(tf.tensor1d(rand(c, seed + k++, 0.5, 1.5)));
      if (cfg.center !== false) fresh.push(tf.tensor1d(rand(c, seed + k++, -0.5, 0.5)));
      fresh.push(tf.tensor1d(rand(c, seed + k++, -0.5, 0.5)), tf.tensor1d(rand(c, seed + k++, 0.5, 1.5)));
      l.setWeights(fresh);
      tf.dispose(fresh);
    }
  };
  visit(model.layers);
  return k;
}
