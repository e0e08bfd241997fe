/**
 * Models built in code with random weights: a MobileNetV2-style network with Keras' layer names (for
 * tests at tiny sizes and for benchmarks at 224 px) and the small CNN behind the bundled 'digits' model.
 */
import * as tf from '@tensorflow/tfjs';
import { setMeta, PREPROCESS_MOBILENET } from './models/meta';

export interface MobileNetV2Options {
  /** Square side in pixels, or [height, width]. Default 224. */
  inputSize?: number | [number, number];
  /** Width multiplier: channel counts scale by alpha (rounded to multiples of 8). Default 1. */
  alpha?: number;
  /** How many inverted residual blocks after the first one (block_1 … block_16). Default 16. */
  blocks?: number;
  /** With a number: global average pooling + softmax Dense 'predictions'. Without: ends at out_relu. */
  classes?: number;
  /** Filters of the last 1×1 conv (Conv_1). Default 1280 (more when alpha > 1), as in Keras. */
  lastFilters?: number;
  /** Input channels. Default 3. */
  channels?: number;
  /** Seed for the weight initialisers, for reproducible models. */
  seed?: number;
}

/** Keras' _make_divisible: round to a multiple of 8 without dropping more than 10%. */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** [filters, stride] of block_1 … block_16 (expansion 6 each), as in the MobileNetV2 paper and Keras. */
const BLOCKS: [number, number][] = [
  [24, 2], [24, 1],
  [32, 2], [32, 1], [32, 1],
  [64, 2], [64, 1], [64, 1], [64, 1],
  [96, 1], [96, 1], [96, 1],
  [160, 2], [160, 1], [160, 1],
  [320, 1],
];

type Initializer = ReturnType<typeof tf.initializers.glorotUniform>;

function seeded(seed: number | undefined): () => Initializer | undefined {
  let k = 0;
  return () => (seed === undefined ? undefined : tf.initializers.glorotUniform({ seed: seed + k++ }));
}

type ST = tf.SymbolicTensor;

/** The layer makers one MobileNetV2 shares: Keras' BatchNormalization and ReLU6, bias-free 'same' convs. */
interface Parts {
  alpha: number;
  init: () => Initializer | undefined;
}

function bn(name: string): tf.layers.Layer {
  return tf.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.999, name });
}

function relu6(name: string): tf.layers.Layer {
  return tf.layers.reLU({ maxValue: 6, name });
}

function conv(p: Parts, filters: number, kernel: number, strides: number, name: string): tf.layers.Layer {
  return tf.layers.conv2d({ filters, kernelSize: kernel, strides, padding: 'same', useBias: false, name, kernelInitializer: p.init() });
}

/** Applies `layers` one after the other. */
function chain(x: ST, ...layers: tf.layers.Layer[]): ST {
  for (const l of layers) x = l.apply(x) as ST;
  return x;
}

interface MobileNetV2Shape {
  h: number;
  w: number;
  alpha: number;
  nBlocks: number;
  channels: number;
}

function mobileNetV2Shape(opts: MobileNetV2Options): MobileNetV2Shape {
  const [h, w] = Array.isArray(opts.inputSize) ? opts.inputSize : [opts.inputSize ?? 224, opts.inputSize ?? 224];
  const alpha = opts.alpha ?? 1;
  const nBlocks = opts.blocks ?? 16;
  const channels = opts.channels ?? 3;
  if (!(alpha > 0)) throw new Error(`mobileNetV2Like: alpha must be > 0, got ${alpha}.`);
  if (!Number.isInteger(nBlocks) || nBlocks < 0 || nBlocks > 16) throw new Error(`mobileNetV2Like: blocks must be 0–16, got ${nBlocks}.`);
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 8 || w < 8) throw new Error(`mobileNetV2Like: inputSize must be at least 8 px, got ${h}×${w}.`);
  return { h, w, alpha, nBlocks, channels };
}

/** Keras' correct_pad: pad so a 3×3 stride-2 'valid' conv sees the image as TF's 'same' would. */
function correctPad(y: ST, name: string): ST {
  const ih = y.shape[1] as number;
  const iw = y.shape[2] as number;
  const padding: [[number, number], [number, number]] = [
    [ih % 2, 1],
    [iw % 2, 1],
  ];
  return tf.layers.zeroPadding2d({ padding, name }).apply(y) as ST;
}

function depthwise(p: Parts, stride: number, name: string): tf.layers.Layer {
  return tf.layers.depthwiseConv2d({
    kernelSize: 3,
    strides: stride,
    padding: stride === 1 ? 'same' : 'valid',
    useBias: false,
    name,
    depthwiseInitializer: p.init(),
  });
}

/** One inverted residual block: [expand] → [pad] → depthwise → project, with a residual add when shapes allow. */
function invertedResidual(p: Parts, inp: ST, filters: number, stride: number, expansion: number, id: number): ST {
  const inChannels = inp.shape[inp.shape.length - 1] as number;
  const outChannels = makeDivisible(Math.trunc(filters * p.alpha));
  const prefix = id > 0 ? `block_${id}_` : 'expanded_conv_';
  let y = inp;
  if (id > 0) y = chain(y, conv(p, expansion * inChannels, 1, 1, `${prefix}expand`), bn(`${prefix}expand_BN`), relu6(`${prefix}expand_relu`));
  if (stride === 2) y = correctPad(y, `${prefix}pad`);
  y = chain(y, depthwise(p, stride, `${prefix}depthwise`), bn(`${prefix}depthwise_BN`), relu6(`${prefix}depthwise_relu`));
  y = chain(y, conv(p, outChannels, 1, 1, `${prefix}project`), bn(`${prefix}project_BN`));
  if (stride === 1 && inChannels === outChannels) {
    y = tf.layers.add({ name: `${prefix}add` }).apply([inp, y]) as ST;
  }
  return y;
}

/** Conv_1/Conv_1_bn/out_relu, then with `classes` the pooled softmax classifier 'predictions'. */
function mobileNetV2Top(p: Parts, x: ST, opts: MobileNetV2Options): ST {
  const last = opts.lastFilters ?? (p.alpha > 1 ? makeDivisible(1280 * p.alpha) : 1280);
  x = chain(x, conv(p, last, 1, 1, 'Conv_1'), bn('Conv_1_bn'), relu6('out_relu'));
  if (opts.classes === undefined) return x;
  if (!Number.isInteger(opts.classes) || opts.classes < 1) throw new Error(`mobileNetV2Like: classes must be a positive whole number.`);
  x = tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x) as ST;
  return tf.layers.dense({ units: opts.classes, activation: 'softmax', name: 'predictions', kernelInitializer: p.init() }).apply(x) as ST;
}

/**
 * A MobileNetV2 built like keras.applications.MobileNetV2: Conv1/bn_Conv1/Conv1_relu, the first block
 * expanded_conv_*, then block_N_{expand,expand_BN,expand_relu,pad,depthwise,depthwise_BN,depthwise_relu,
 * project,project_BN,add}, then Conv_1/Conv_1_bn/out_relu. ReLU6 everywhere, BatchNormalization with
 * Keras' epsilon 1e-3 and momentum 0.999, no conv biases. Weights are random.
 */
export function mobileNetV2Like(opts: MobileNetV2Options = {}): tf.LayersModel {
  const { h, w, alpha, nBlocks, channels } = mobileNetV2Shape(opts);
  const p: Parts = { alpha, init: seeded(opts.seed) };
  const input = tf.input({ shape: [h, w, channels], name: 'input_1' });
  let x = chain(input, conv(p, makeDivisible(32 * alpha), 3, 2, 'Conv1'), bn('bn_Conv1'), relu6('Conv1_relu'));
  x = invertedResidual(p, x, 16, 1, 1, 0);
  BLOCKS.slice(0, nBlocks).forEach(([filters, stride], i) => {
    x = invertedResidual(p, x, filters, stride, 6, i + 1);
  });
  x = mobileNetV2Top(p, x, opts);
  const model = tf.model({ inputs: input, outputs: x, name: `mobilenetv2_${alpha}_${h}` });
  setMeta(model, {
    name: `mobileNetV2Like(${h}×${w}, alpha ${alpha}, ${nBlocks} blocks)`,
    source: 'code',
    format: 'layers',
    inputSize: [h, w],
    preprocessing: { ...PREPROCESS_MOBILENET, channels: channels === 1 ? 1 : 3 },
  });
  return model;
}

/**
 * The small CNN of the bundled 'digits' model: two conv → BatchNorm → ReLU → max-pool blocks, a third
 * conv, a 64-unit Dense and a softmax output. About 25k parameters. Sequential, 28×28×1 input.
 * BatchNormalization momentum is 0.9 (Keras: 0.99) so the moving statistics settle within the few
 * hundred steps of a short training run.
 */
export function digitsCnn(opts: { classes?: number; seed?: number } = {}): tf.Sequential {
  const init = seeded(opts.seed);
  const classes = opts.classes ?? 5;
  const model = tf.sequential({ name: 'digits_cnn' });
  model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, useBias: false, name: 'conv1', kernelInitializer: init() }));
  model.add(tf.layers.batchNormalization({ name: 'conv1_bn', momentum: 0.9 }));
  model.add(tf.layers.reLU({ name: 'conv1_relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }));
  model.add(tf.layers.conv2d({ filters: 16, kernelSize: 3, useBias: false, name: 'conv2', kernelInitializer: init() }));
  model.add(tf.layers.batchNormalization({ name: 'conv2_bn', momentum: 0.9 }));
  model.add(tf.layers.reLU({ name: 'conv2_relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }));
  model.add(tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', name: 'conv3', kernelInitializer: init() }));
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(tf.layers.dense({ units: 64, activation: 'relu', name: 'fc1', kernelInitializer: init() }));
  model.add(tf.layers.dense({ units: classes, activation: 'softmax', name: 'predictions', kernelInitializer: init() }));
  setMeta(model, {
    name: 'digits_cnn',
    source: 'code',
    format: 'layers',
    inputSize: [28, 28],
    preprocessing: { scale: 1 / 255, offset: 0, channels: 1 },
  });
  return model;
}
