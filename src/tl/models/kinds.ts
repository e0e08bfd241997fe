/** What kind of model a value is: layers, graph or neither, and what its output gives. */
import * as tf from '@tensorflow/tfjs';
import { getMeta } from './meta';
import { describeValue } from '../util/text';

export type AnyModel = tf.LayersModel | tf.GraphModel;

export function isGraphModel(m: unknown): m is tf.GraphModel {
  return m instanceof tf.GraphModel;
}

export function isLayersModel(m: unknown): m is tf.LayersModel {
  return m instanceof tf.LayersModel;
}

/**
 * Throws unless `model` is a trainable layers model. A graph model (TF-Hub, SavedModel conversions)
 * is a fixed computation: it has no layers to freeze and no variables to train.
 */
export function assertTrainable(model: unknown, what = 'This operation'): asserts model is tf.LayersModel {
  if (isGraphModel(model)) {
    const name = getMeta(model)?.name ?? 'this model';
    throw new Error(
      `${what} needs a layers model, but ${name} is a TF.js graph model: it can only be used as a frozen ` +
        `feature extractor (compute embeddings with it and train a new head on them). ` +
        `To fine-tune, load a model in the TF.js layers format (for example 'mobilenet_v1_0.25').`,
    );
  }
  if (model && typeof model === 'object' && (model as { engine?: unknown }).engine === 'onnxruntime') {
    const name = getMeta(model)?.name ?? 'this model';
    throw new Error(
      `${what} needs a layers model, but ${name} is an ONNX model run by ONNX Runtime: it can only be used as a frozen ` +
        `feature extractor. Compute features with it (await model.predict(images)) and train a new TF.js head on them.`,
    );
  }
  if (!isLayersModel(model)) {
    throw new Error(`${what} needs a TF.js layers model (tf.LayersModel); got ${describeValue(model)}.`);
  }
}

/** The number of units of a model's (first) output, when it is a fixed positive number. */
export function outputUnits(model: object | undefined): number | undefined {
  const outputs = (model as { outputs?: { shape: (number | null)[] }[] } | undefined)?.outputs;
  const shape = outputs?.[0]?.shape;
  const last = shape?.[shape.length - 1];
  return typeof last === 'number' && last > 0 ? last : undefined;
}
