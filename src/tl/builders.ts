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

/**
 * A MobileNetV2 built like keras.applications.MobileNetV2: Conv1/bn_Conv1/Conv1_relu, the first block
 * expanded_conv_*, then block_N_{expand,expand_BN,expand_relu,pad,depthwise,depthwise_BN,depthwise_relu,
 * project,project_BN,add}, then Conv_1/Conv_1_bn/out_relu. ReLU6 everywhere, BatchNormalization with
 * Keras' epsilon 1e-3 and momentum 0.999, no conv biases. Weights are random.
 */
export function mobileNetV2Like(opts: MobileNetV2Options = {}): tf.LayersModel {
  const [h, w] = Array.isArray(opts.inputSize) ? opts.inputSize : [opts.inputSize ?? 224, opts.inputSize ?? 224];
  const alpha = opts.alpha ?? 1;
  const nBlocks = opts.blocks ?? 16;
  const channels = opts.channels ?? 3;
  if (!(alpha > 0)) throw new Error(`mobileNetV2Like: alpha must be > 0, got ${alpha}.`);
  if (!Number.isInteger(nBlocks) || nBlocks < 0 || nBlocks > 16) throw new Error(`mobileNetV2Like: blocks must be 0–16, got ${nBlocks}.`);
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 8 || w < 8) throw new Error(`mobileNetV2Like: inputSize must be at least 8 px, got ${h}×${w}.`);
  const init = seeded(opts.seed);
  const bn = (name: string) => tf.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.999, name });
  const relu6 = (name: string) => tf.layers.reLU({ maxValue: 6, name });
  const conv = (filters: number, kernel: number, strides: number, name: string) =>
    tf.layers.conv2d({ filters, kernelSize: kernel, strides, padding: 'same', useBias: false, name, kernelInitializer: init() });

  const input = tf.input({ shape: [h, w, channels], name: 'input_1' });
  let x = conv(makeDivisible(32 * alpha), 3, 2, 'Conv1').apply(input) as tf.SymbolicTensor;
  x = bn('bn_Conv1').apply(x) as tf.SymbolicTensor;
  x = relu6('Conv1_relu').apply(x) as tf.SymbolicTensor;

  const block = (inp: tf.SymbolicTensor, filters: number, stride: number, expansion: number, id: number) => {
    const inChannels = inp.shape[inp.shape.length - 1] as number;
    const outChannels = makeDivisible(Math.trunc(filters * alpha));
    let prefix = 'expanded_conv_';
    let y = inp;
    if (id > 0) {
      prefix = `block_${id}_`;
      y = conv(expansion * inChannels, 1, 1, `${prefix}expand`).apply(y) as tf.SymbolicTensor;
      y = bn(`${prefix}expand_BN`).apply(y) as tf.SymbolicTensor;
      y = relu6(`${prefix}expand_relu`).apply(y) as tf.SymbolicTensor;
    }
    if (stride === 2) {
      // Keras' correct_pad: pad so a 3×3 stride-2 'valid' conv sees the image as TF's 'same' would.
      const ih = y.shape[1] as number;
      const iw = y.shape[2] as number;
      const padding: [[number, number], [number, number]] = [
        [ih % 2, 1],
        [iw % 2, 1],
      ];
      y = tf.layers.zeroPadding2d({ padding, name: `${prefix}pad` }).apply(y) as tf.SymbolicTensor;
    }
    y = tf.layers
      .depthwiseConv2d({
        kernelSize: 3,
        strides: stride,
        padding: stride === 1 ? 'same' : 'valid',
        useBias: false,
        name: `${prefix}depthwise`,
        depthwiseInitializer: init(),
      })
      .apply(y) as tf.SymbolicTensor;
    y = bn(`${prefix}depthwise_BN`).apply(y) as tf.SymbolicTensor;
    y = relu6(`${prefix}depthwise_relu`).apply(y) as tf.SymbolicTensor;
    y = conv(outChannels, 1, 1, `${prefix}project`).apply(y) as tf.SymbolicTensor;
    y = bn(`${prefix}project_BN`).apply(y) as tf.SymbolicTensor;
    if (stride === 1 && inChannels === outChannels) {
      y = tf.layers.add({ name: `${prefix}add` }).apply([inp, y]) as tf.SymbolicTensor;
    }
    return y;
  };

  x = block(x, 16, 1, 1, 0);
  BLOCKS.slice(0, nBlocks).forEach(([filters, stride], i) => {
    x = block(x, filters, stride, 6, i + 1);
  });

  const last = opts.lastFilters ?? (alpha > 1 ? makeDivisible(1280 * alpha) : 1280);
  x = conv(last, 1, 1, 'Conv_1').apply(x) as tf.SymbolicTensor;
  x = bn('Conv_1_bn').apply(x) as tf.SymbolicTensor;
  x = relu6('out_relu').apply(x) as tf.SymbolicTensor;
  if (opts.classes !== undefined) {
    if (!Number.isInteger(opts.classes) || opts.classes < 1) throw new Error(`mobileNetV2Like: classes must be a positive whole number.`);
    x = tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: opts.classes, activation: 'softmax', name: 'predictions', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  }
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
