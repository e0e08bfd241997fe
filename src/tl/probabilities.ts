/**
 * Class probabilities from whatever classifies: a TF.js layers or graph model, or a model run by
 * ONNX Runtime (an exported model.onnx that tl.load gave back as a FeatureExtractor). What evaluate,
 * predict and topLosses share.
 */
import * as tf from '@tensorflow/tfjs';
import { isFeatureExtractor, type FeatureExtractor } from './onnx/extractor';

export type Classifier = tf.LayersModel | tf.GraphModel | FeatureExtractor;

/** The input shape, batch first (null where open). */
export function inputShapeOf(model: Classifier): (number | null)[] | undefined {
  if (isFeatureExtractor(model)) return [null, ...model.inputShape];
  return model.inputs[0]?.shape as (number | null)[] | undefined;
}

/** Output units when the model declares them (graph models often leave them open: -1 or missing). */
export function declaredUnits(model: Classifier): number | undefined {
  const shape = isFeatureExtractor(model) ? model.outputShape : model.outputs[0]?.shape;
  const last = shape?.[shape.length - 1];
  return typeof last === 'number' && last >= 1 ? last : undefined;
}

function runModel(model: tf.LayersModel | tf.GraphModel, x: tf.Tensor): tf.Tensor {
  const out = model.predict(x) as tf.Tensor | tf.Tensor[];
  if (Array.isArray(out)) {
    tf.dispose(out.slice(1));
    return out[0];
  }
  return out;
}

/** [n, K] from the model's output; one sigmoid unit becomes two classes. Disposes `out`. */
function asProbabilities(out: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const y = out.toFloat();
    const y2 = y.reshape([y.shape[0], -1]) as tf.Tensor2D;
    const p = y2.shape[1] === 1 ? (tf.concat([tf.sub(1, y2), y2], 1) as tf.Tensor2D) : y2;
    out.dispose();
    return p;
  });
}

/** Probabilities [n, K] for the batch `x` (the caller keeps `x`, and disposes the result). */
export async function probabilities(model: Classifier, x: tf.Tensor): Promise<tf.Tensor2D> {
  if (isFeatureExtractor(model)) return asProbabilities(await model.predict(x));
  return asProbabilities(tf.tidy(() => runModel(model, x)));
}
