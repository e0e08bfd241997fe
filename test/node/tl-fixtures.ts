/** Small models and files shared by the tl-* tests. Nothing here touches the network. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export async function useCpu(): Promise<void> {
  if (tf.getBackend() !== 'cpu') await tf.setBackend('cpu');
  await tf.ready();
}

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits. */
export function tmpDir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `tl-${tag}-`));
  made.push(d);
  return d;
}

/** A deterministic float array. */
export function ramp(n: number, scale = 1, offset = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = offset + scale * Math.sin(i * 12.9898 + 78.233);
  return a;
}

/** conv → BatchNormalization 'bn' → ReLU → flatten → Dense softmax, on 6×6×2 inputs. */
export function convBnModel(seed = 1): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 2], name: 'in' });
  let x = tf.layers
    .conv2d({ filters: 4, kernelSize: 3, name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed }) })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn', momentum: 0.5 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: 'flat' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .dense({ units: 3, activation: 'softmax', name: 'out', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

/** 24 samples for convBnModel, with a mean far from 0 so batch and moving statistics differ. */
export function convBnData(): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const n = 24;
  const xs = tf.tensor4d(ramp(n * 6 * 6 * 2, 2, 3), [n, 6, 6, 2]);
  const labels = Array.from({ length: n }, (_, i) => i % 3);
  const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat() as tf.Tensor2D;
  return { xs, ys };
}

export function weightValues(layer: tf.layers.Layer): Float32Array[] {
  return layer.getWeights().map((w) => w.dataSync() as Float32Array);
}

export function sameArrays(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((x, i) => x.length === b[i].length && x.every((v, j) => v === b[i][j]));
}

/**
 * A hand-written TF.js graph model (x · w, w of shape [3, 2]) in `dir`: model.json + w.bin.
 * Graph models normally come from the Python converter; this one uses the same JSON fields.
 */
export function writeGraphModel(dir: string): { weights: Float32Array } {
  const json = {
    format: 'graph-model',
    generatedBy: 'tl tests',
    convertedBy: 'hand',
    modelTopology: {
      node: [
        {
          name: 'x',
          op: 'Placeholder',
          attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '3' }] } } },
        },
        {
          name: 'w',
          op: 'Const',
          attr: {
            dtype: { type: 'DT_FLOAT' },
            value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '3' }, { size: '2' }] } } },
          },
        },
        {
          name: 'y',
          op: 'MatMul',
          input: ['x', 'w'],
          attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } },
        },
      ],
      library: {},
      versions: { producer: 1 },
    },
    weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'w', shape: [3, 2], dtype: 'float32' }] }],
  };
  const weights = new Float32Array([1, 2, 3, 4, 5, 6]);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.from(weights.buffer));
  return { weights };
}
