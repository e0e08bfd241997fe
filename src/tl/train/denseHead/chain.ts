/**
 * Which models the fused Dense-head loop (loop.ts) trains: a chain of Dense layers, with Dropout
 * between them, ending in softmax, compiled with (sparse) categorical cross-entropy and accuracy,
 * on the wasm backend. That is the head tl.fit trains on cached embeddings. Class weights scale
 * each row's loss as tfjs's do (loss.ts). Anything else (other layers or activations,
 * regularizers, constraints, frozen layers, another loss or metric) trains through tfjs's own
 * loop; `denseChain` says why not.
 */
import * as tf from '@tensorflow/tfjs';
import { producer } from '../../util/graph';
import type { LabelMode } from '../compile';

export type HiddenActivation = 'linear' | 'relu';

export interface DenseLink {
  kernel: tf.Variable;
  bias?: tf.Variable;
  /** 'softmax' for the last link only. */
  activation: HiddenActivation | 'softmax';
  /** The Dropout rate applied to this link's output during training (0: none). */
  dropout: number;
  /** The Dropout layer's seed: tfjs then draws the same mask at every step, and so does the fused step. */
  dropoutSeed?: number;
}

export interface DenseChain {
  links: DenseLink[];
  loss: 'categorical' | 'sparse';
}

interface DenseConfig {
  activation?: string;
  kernelRegularizer?: unknown;
  biasRegularizer?: unknown;
  activityRegularizer?: unknown;
  kernelConstraint?: unknown;
  biasConstraint?: unknown;
}

interface LayerInternals {
  kernel?: { read(): tf.Variable };
  bias?: { read(): tf.Variable } | null;
  rate?: number;
  noiseShape?: unknown;
  seed?: unknown;
}

/**
 * The layers from the model's input to its output, in order, when each takes the one before's
 * output alone. Walked through the model's own nodes: a head tl.fit trains on cached embeddings
 * re-applies the full model's layers, so each of them has a node in both models.
 */
function straightLayers(model: tf.LayersModel): tf.layers.Layer[] | string {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return 'it has more than one input or output';
  if (model.inputs[0].shape.length !== 2) return 'its input is not a vector';
  const layers: tf.layers.Layer[] = [];
  for (let t = model.outputs[0]; t !== model.inputs[0]; ) {
    const node = producer(t);
    const layer = t.sourceLayer as tf.layers.Layer;
    if (!node || node.inputTensors.length !== 1 || node.outputTensors.length !== 1) return `${layer.name} does not take one input to one output`;
    if (layers.length > model.layers.length) return 'its layers do not form a chain';
    layers.unshift(layer);
    t = node.inputTensors[0];
  }
  return layers;
}

function denseLink(layer: tf.layers.Layer, last: boolean): DenseLink | string {
  const c = layer.getConfig() as DenseConfig;
  const extras = ['kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'kernelConstraint', 'biasConstraint'] as const;
  const extra = extras.find((k) => c[k] != null);
  if (extra) return `${layer.name} has a ${extra}`;
  if (!layer.trainable) return `${layer.name} is frozen`;
  const activation = c.activation ?? 'linear';
  const ok = last ? activation === 'softmax' : activation === 'linear' || activation === 'relu';
  if (!ok) return `${layer.name}'s activation is ${activation}`;
  const l = layer as unknown as LayerInternals;
  const kernel = l.kernel?.read();
  if (!kernel || kernel.dtype !== 'float32' || kernel.rank !== 2) return `${layer.name} has no float32 kernel`;
  return { kernel, bias: l.bias?.read(), activation: activation as DenseLink['activation'], dropout: 0 };
}

function dropout(layer: tf.layers.Layer): { rate: number; seed?: number } | string {
  const l = layer as unknown as LayerInternals;
  if (l.noiseShape != null) return `${layer.name} has a noise shape`;
  if (l.seed != null && typeof l.seed !== 'number') return `${layer.name}'s seed is not a number`;
  const rate = l.rate ?? 0;
  return { rate: rate > 0 && rate < 1 ? rate : 0, seed: l.seed ?? undefined };
}

function lossKind(model: tf.LayersModel, mode: LabelMode): { kind: DenseChain['loss'] } | string {
  const names = model.metricsNames ?? [];
  if (names.length !== 2 || names[0] !== 'loss' || !['acc', 'accuracy'].includes(names[1])) return `its metrics are ${names.join(', ')}`;
  if (model.loss === 'categoricalCrossentropy' && mode === 'onehot') return { kind: 'categorical' };
  if (model.loss === 'sparseCategoricalCrossentropy' && mode === 'sparse') return { kind: 'sparse' };
  return `its loss is ${String(model.loss)}`;
}

/** The model as a Dense chain the fused loop can train, or why it cannot. */
export function denseChain(model: tf.LayersModel, mode: LabelMode): DenseChain | string {
  if (tf.getBackend() !== 'wasm') return `the backend is ${tf.getBackend()}`;
  const loss = lossKind(model, mode);
  if (typeof loss === 'string') return loss;
  const layers = straightLayers(model);
  if (typeof layers === 'string') return layers;
  const links: DenseLink[] = [];
  for (let i = 0; i < layers.length; i++) {
    const kind = layers[i].getClassName();
    if (kind === 'Dropout') {
      const d = dropout(layers[i]);
      if (typeof d === 'string') return d;
      const prev = links[links.length - 1];
      if (!prev) return 'it starts with Dropout';
      if (prev.dropout) return 'it has two Dropout layers in a row';
      prev.dropout = d.rate;
      prev.dropoutSeed = d.seed;
      continue;
    }
    if (kind !== 'Dense') return `it has a ${kind} layer (${layers[i].name})`;
    const link = denseLink(layers[i], i === layers.length - 1);
    if (typeof link === 'string') return link;
    links.push(link);
  }
  const last = links[links.length - 1];
  if (!last || last.activation !== 'softmax' || last.dropout || (last.kernel.shape[1] ?? 0) < 2) return 'it does not end in a softmax Dense layer of 2 or more units';
  const trainable = new Set(model.trainableWeights.map((w) => w.read()));
  if (trainable.size !== links.reduce((n, l) => n + (l.bias ? 2 : 1), 0)) return 'its trainable weights are not its Dense layers\' own';
  return { links, loss: loss.kind };
}
