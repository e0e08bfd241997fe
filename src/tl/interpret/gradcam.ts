/**
 * Grad-CAM (Selvaraju et al., 2017): where in the image the evidence for a class lies. The model is
 * cut at its last spatial layer into `features` (image → feature map A) and `rest` (A → class
 * scores), both rebuilt from the model's own layers. The class score's gradient with respect to A,
 * averaged over the map, weighs A's channels; the weighted sum, through ReLU, is the heatmap.
 * The score is the logit (the final Dense before its softmax), as the paper and Keras' example use:
 * a saturated softmax has almost no gradient.
 */
import * as tf from '@tensorflow/tfjs';
import { boundaryOf, flatCalls, rebuild, type Call } from '../util/calls';

export interface CamSplit {
  /** The layer whose output is the feature map. */
  layer: string;
  features: tf.LayersModel;
  /** Feature map → the final Dense's input (or the output, when there is no Dense to take logits from). */
  rest?: tf.LayersModel;
  /** The final softmax/sigmoid Dense, applied without its activation for logits. */
  dense?: tf.layers.Layer;
}

const splits = new WeakMap<tf.LayersModel, Map<string, CamSplit>>();

function rank4(c: Call): boolean {
  const shape = c.node.outputTensors[0]?.shape;
  return !!shape && shape.length === 4 && c.node.outputTensors.length === 1;
}

/** Layers whose output no longer lines up with the image (a heatmap of it would sit in the wrong place). */
const SHIFTING = new Set(['Cropping2D', 'ZeroPadding2D', 'Reshape', 'Permute']);

function squashingDense(c: Call | undefined): boolean {
  if (!c || c.layer.getClassName() !== 'Dense') return false;
  const act = (c.layer.getConfig() as { activation?: unknown }).activation;
  return (act === 'softmax' || act === 'sigmoid') && c.node.inputTensors[0].shape.length === 2;
}

/** Why `model` cannot be explained, or undefined. */
function describeNoSpatial(model: tf.LayersModel): string {
  const shape = JSON.stringify(model.inputs[0].shape).replace(/null/g, 'batch');
  return `model '${model.name}' has no spatial layer (one with a [batch, height, width, channels] output that everything after it depends on): its input is ${shape}. Grad-CAM needs the convolutional base in the TF.js model; a head trained on features from an ONNX or graph base has no feature map to look at.`;
}

/** Cuts `model` after `layerName` (default: the last layer with a 4-D output that the rest reads alone). */
export function camSplit(model: tf.LayersModel, layerName?: string): CamSplit {
  const key = layerName ?? '';
  const known = splits.get(model)?.get(key);
  if (known) return known;
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new Error(`explain(): model '${model.name}' has ${model.inputs.length} inputs and ${model.outputs.length} outputs; Grad-CAM needs one of each.`);
  const flat = flatCalls(model);
  const { calls } = flat;
  const cutsCleanly = (i: number) => {
    const b = boundaryOf(flat, calls.slice(0, i + 1), calls.slice(i + 1));
    return b.length === 1 && b[0] === calls[i].outs[0];
  };
  let at = -1;
  if (layerName !== undefined) {
    at = calls.map((c) => c.layer.name).lastIndexOf(layerName);
    if (at < 0) throw new Error(`explain(): model '${model.name}' has no layer '${layerName}' on the path to its output.`);
    if (!rank4(calls[at])) throw new Error(`explain(): layer '${layerName}' gives [${calls[at].node.outputTensors[0].shape.join(', ')}]; Grad-CAM needs a [batch, height, width, channels] feature map.`);
    if (!cutsCleanly(at)) throw new Error(`explain(): the layers after '${layerName}' also read earlier tensors (a skip connection crosses it); pick a layer that ends a block.`);
  } else {
    for (let i = calls.length - 1; i >= 0 && at < 0; i--) if (rank4(calls[i]) && !SHIFTING.has(calls[i].layer.getClassName()) && cutsCleanly(i)) at = i;
    if (at < 0) throw new Error(`explain(): ${describeNoSpatial(model)}`);
  }
  const A = calls[at].outs[0];
  const after = calls.slice(at + 1);
  const last = after[after.length - 1];
  const dense = squashingDense(last) ? last.layer : undefined;
  const restCalls = dense ? after.slice(0, -1) : after;
  const restOut = dense ? last.ins[0] : flat.outputKeys[0];
  const split: CamSplit = {
    layer: calls[at].layer.name,
    features: rebuild(flat, calls.slice(0, at + 1), [flat.inputKey], [A], `${model.name}_cam_features`),
    rest: restOut === A ? undefined : rebuild(flat, restCalls, [A], [restOut], `${model.name}_cam_rest`),
    dense,
  };
  if (!splits.has(model)) splits.set(model, new Map());
  splits.get(model)!.set(key, split);
  return split;
}

/** Class scores [1, K] from the feature map: logits when the model ends in a softmax/sigmoid Dense. */
function scores(s: CamSplit, a: tf.Tensor): tf.Tensor2D {
  let z = s.rest ? (s.rest.apply(a, { training: false }) as tf.Tensor) : a;
  if (s.dense) {
    const [kernel, bias] = s.dense.getWeights();
    z = tf.matMul(z as tf.Tensor2D, kernel as tf.Tensor2D);
    if (bias) z = tf.add(z, bias);
  }
  return z.reshape([z.shape[0], -1]) as tf.Tensor2D;
}

export interface CamResult {
  /** [h, w] in [0, 1] (all zeros when nothing in the map speaks for the class). */
  heatmap: number[][];
  /** The class explained: the one asked for, else the top one. */
  cls: number;
}

/** Grad-CAM of one preprocessed image `x` [1, h, w, c] for class `cls` (default: the highest score). */
export function gradCam(s: CamSplit, x: tf.Tensor4D, cls?: number): CamResult {
  const { cam, c } = tf.tidy(() => {
    const a = s.features.apply(x, { training: false }) as tf.Tensor4D;
    const k = scores(s, a);
    const units = k.shape[1];
    const c = cls ?? (k.argMax(1).dataSync()[0] as number);
    if (!(Number.isInteger(c) && c >= 0 && c < units)) throw new Error(`explain(): class ${cls} is not an output of the model (0–${units - 1}).`);
    const grad = tf.grad((fm: tf.Tensor) => scores(s, fm).slice([0, c], [1, 1]).sum())(a) as tf.Tensor4D;
    const weights = grad.mean([1, 2], true); // [1, 1, 1, channels]
    const raw = tf.relu(tf.sum(tf.mul(a, weights), -1)).squeeze([0]) as tf.Tensor2D;
    const top = raw.max();
    const cam = tf.where(tf.greater(top, 0), tf.div(raw, tf.maximum(top, 1e-12)), tf.zerosLike(raw)) as tf.Tensor2D;
    return { cam, c: tf.scalar(c, 'int32') };
  });
  const heatmap = cam.arraySync();
  const chosen = c.dataSync()[0];
  tf.dispose([cam, c]);
  return { heatmap, cls: chosen };
}
