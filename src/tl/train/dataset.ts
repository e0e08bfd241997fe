/** The dataset adapter: our Datasets in the form tfjs fitDataset reads, with labels encoded for the loss. */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data';
import { getMeta } from '../models/meta';
import { printable } from '../util/text';
import { outputUnits, type LabelMode } from './compile';

export interface TfDatasetLike {
  size: number;
  iterator(): Promise<{ next(): Promise<IteratorResult<tf.TensorContainer>> }>;
}

export function toTfDataset(ds: Dataset, batchSize: number, mode: LabelMode, shuffle: boolean, seedOf: () => number, augment: boolean): TfDatasetLike {
  return {
    size: Math.ceil(ds.size / batchSize),
    iterator: async () => {
      let gen: AsyncGenerator<{ xs: tf.Tensor; ys: tf.Tensor }> | undefined;
      return {
        next: async () => {
          // Created on first use: fitDataset asks for an iterator it never reads before the first epoch.
          gen ??= ds.batches({ batchSize, shuffle, seed: seedOf(), augment });
          const r = await gen.next();
          if (r.done) return { done: true, value: undefined as unknown as tf.TensorContainer };
          const { xs, ys } = r.value;
          return { done: false, value: { xs, ys: encodeLabels(ys, mode) } };
        },
      };
    },
  };
}

function encodeLabels(ys: tf.Tensor, mode: LabelMode): tf.Tensor {
  if (mode === 'onehot') return ys;
  const out = tf.tidy(() => (mode === 'sparse' ? tf.argMax(ys, 1).toFloat().expandDims(1) : ys.slice([0, 1], [-1, 1])));
  ys.dispose();
  return out;
}

/** The model's outputs and the data's classes must match, in number and (when the model names them) in order. */
export function checkClasses(model: tf.LayersModel, data: Dataset, mode: LabelMode): void {
  const units = outputUnits(model);
  const k = data.classes.length;
  if (mode === 'binary' ? k !== 2 : units !== k) {
    throw new Error(`fit(): the model has ${units} output unit${units === 1 ? '' : 's'} but the data has ${k} classes (${data.classes.map(printable).join(', ')}).`);
  }
  const meta = getMeta(model)?.classes;
  if (meta && meta.length === k && meta.some((c, i) => c !== data.classes[i])) {
    throw new Error(`fit(): the data's classes (${data.classes.map(printable).join(', ')}) differ from the model's (${meta.map(printable).join(', ')}). Load the data with { model } to use the model's class order.`);
  }
}
