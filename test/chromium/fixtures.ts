/** Data in the shapes the tl core emits, generated deterministically. */
import type { BatchPoint, ConfusionData, EpochPoint, LayerInfo, LayerMap, TrainingRun } from '../../src/common/shapes';

export const HOSTILE = '<img src=x onerror=alert(1)>';

/** A plausible loss curve: decaying, noisy per batch, deterministic. */
function lossAt(step: number, total: number, seed: number): number {
  const t = step / total;
  const noise = Math.sin(step * 12.9898 + seed) * 43758.5453;
  return 0.15 + 2.1 * Math.exp(-4 * t) + 0.12 * (noise - Math.floor(noise) - 0.5);
}

export function batchPoints(epochs: number, bpe: number, seed = 1, fromStep = 1): BatchPoint[] {
  const out: BatchPoint[] = [];
  const total = epochs * bpe;
  for (let s = fromStep; s <= total; s++) {
    const epoch = Math.floor((s - 1) / bpe) + 1;
    const loss = lossAt(s, total, seed);
    out.push({ epoch, batch: (s - 1) % bpe, step: s, loss, acc: Math.min(0.99, 1.05 - loss / 2.4) });
  }
  return out;
}

export function epochPoints(epochs: number, bpe: number, seed = 1, valGap = 0.08): EpochPoint[] {
  const total = epochs * bpe;
  return Array.from({ length: epochs }, (_, i) => {
    const e = i + 1;
    const loss = lossAt(e * bpe, total, seed + 100) ;
    const vl = loss + valGap + 0.03 * Math.cos(e + seed);
    return { epoch: e, loss, acc: Math.min(0.99, 1.05 - loss / 2.4), val_loss: vl, val_acc: Math.min(0.99, 1.03 - vl / 2.4), seconds: 2.5 };
  });
}

export function trainingRun(p: { runId: string; epochs: number; done: number; bpe: number; title?: string; phase?: string; seed?: number; status?: TrainingRun['status']; batches?: boolean }): TrainingRun {
  const seed = p.seed ?? 1;
  const history = epochPoints(p.epochs, p.bpe, seed).slice(0, p.done);
  return {
    kind: 'training',
    version: 1,
    runId: p.runId,
    title: p.title,
    phase: p.phase,
    status: p.status ?? (p.done >= p.epochs ? 'done' : 'running'),
    epochs: p.epochs,
    batchesPerEpoch: p.bpe,
    samples: p.bpe * 32,
    history,
    batches: p.batches === false ? [] : batchPoints(p.epochs, p.bpe, seed).filter((b) => b.epoch <= p.done),
    throughput: 850,
    etaSeconds: (p.epochs - p.done) * 2.5,
    startedAt: 0,
  };
}

function layer(index: number, name: string, className: string, block: string, params: number, trainable: boolean, shape: (number | null)[]): LayerInfo {
  return {
    index,
    name,
    className,
    outputShape: shape,
    trainableParams: trainable ? params : 0,
    nonTrainableParams: trainable ? 0 : params,
    trainable,
    block,
    ...(className === 'BatchNormalization' && !trainable ? { bnInference: true } : {}),
  };
}

/** MobileNetV2's layer names and blocks (155 layers with the input and a 2-layer head). */
export function mobilenetV2Map(trainableFrom = 116): LayerMap {
  const L: LayerInfo[] = [];
  const add = (name: string, cls: string, block: string, params: number, shape: (number | null)[]) =>
    L.push(layer(L.length, name, cls, block, params, L.length >= trainableFrom, shape));
  add('input_1', 'InputLayer', 'input', 0, [null, 224, 224, 3]);
  add('Conv1', 'Conv2D', 'Conv1', 864, [null, 112, 112, 32]);
  add('bn_Conv1', 'BatchNormalization', 'Conv1', 128, [null, 112, 112, 32]);
  add('Conv1_relu', 'ReLU', 'Conv1', 0, [null, 112, 112, 32]);
  for (const n of ['expanded_conv_depthwise', 'expanded_conv_depthwise_BN', 'expanded_conv_depthwise_relu', 'expanded_conv_project', 'expanded_conv_project_BN']) {
    add(n, n.endsWith('BN') ? 'BatchNormalization' : n.endsWith('relu') ? 'ReLU' : n.includes('depthwise') ? 'DepthwiseConv2D' : 'Conv2D', 'expanded_conv', 300, [null, 112, 112, 16]);
  }
  for (let b = 1; b <= 16; b++) {
    const hw = b < 3 ? 56 : b < 6 ? 28 : b < 13 ? 14 : 7;
    const c = b < 3 ? 24 : b < 6 ? 32 : b < 10 ? 64 : b < 13 ? 96 : 160;
    const parts: [string, string, number][] = [
      ['expand', 'Conv2D', c * c * 6],
      ['expand_BN', 'BatchNormalization', c * 24],
      ['expand_relu', 'ReLU', 0],
      ...(b === 1 || b === 3 || b === 6 || b === 13 ? ([['pad', 'ZeroPadding2D', 0]] as [string, string, number][]) : []),
      ['depthwise', 'DepthwiseConv2D', c * 54],
      ['depthwise_BN', 'BatchNormalization', c * 24],
      ['depthwise_relu', 'ReLU', 0],
      ['project', 'Conv2D', c * c * 6],
      ['project_BN', 'BatchNormalization', c * 4],
      ...(![1, 3, 6, 10, 13, 16].includes(b) ? ([['add', 'Add', 0]] as [string, string, number][]) : []),
    ];
    for (const [suffix, cls, params] of parts) add(`block_${b}_${suffix}`, cls, `block_${b}`, params, [null, hw, hw, c]);
  }
  add('Conv_1', 'Conv2D', 'Conv_1', 409600, [null, 7, 7, 1280]);
  add('Conv_1_bn', 'BatchNormalization', 'Conv_1', 5120, [null, 7, 7, 1280]);
  add('out_relu', 'ReLU', 'Conv_1', 0, [null, 7, 7, 1280]);
  add('global_average_pooling2d', 'GlobalAveragePooling2D', 'global_average_pooling2d', 0, [null, 1280]);
  add('head_dense', 'Dense', 'head', 1281 * 5, [null, 5]);
  return finish('mobilenetv2_1.00_224', L);
}

/** A long model of `n` layers in blocks of 10, for the scaling test; one layer gets a hostile name. */
export function longMap(n: number, hostileAt = 3): LayerMap {
  const L: LayerInfo[] = [];
  for (let i = 0; i < n; i++) {
    const block = `stage${Math.floor(i / 10)}`;
    const cls = i % 3 === 1 ? 'BatchNormalization' : 'Conv2D';
    const name = i === hostileAt ? HOSTILE : i === hostileAt + 1 ? `very_long_${'name_'.repeat(40)}end` : `${block}_layer${i % 10}`;
    L.push(layer(i, name, cls, block, 1000 + i, i >= n - 40, [null, 8, 8, 64]));
  }
  return finish('deep_model', L);
}

function finish(modelName: string, layers: LayerInfo[]): LayerMap {
  const trainable = layers.reduce((s, l) => s + l.trainableParams, 0);
  const nonTrainable = layers.reduce((s, l) => s + l.nonTrainableParams, 0);
  return { kind: 'layers', version: 1, modelName, layers, totals: { trainable, nonTrainable, total: trainable + nonTrainable } };
}

export function confusion(classes = ['cat', 'dog', 'bird', 'fish', HOSTILE]): ConfusionData {

  const matrix = classes.map((_, i) => classes.map((__, j) => (i === j ? 40 + 7 * i : (i * 3 + j * 5) % 7)));
  const colSum = classes.map((_, j) => matrix.reduce((s, r) => s + r[j], 0));
  const perClass = classes.map((label, i) => {
    const support = matrix[i].reduce((s, v) => s + v, 0);
    const precision = matrix[i][i] / colSum[i];
    const recall = matrix[i][i] / support;
    return { label, precision, recall, f1: (2 * precision * recall) / (precision + recall), support };
  });
  const total = matrix.flat().reduce((s, v) => s + v, 0);
  const correct = matrix.reduce((s, r, i) => s + r[i], 0);
  return { kind: 'confusion', version: 1, classes, matrix, accuracy: correct / total, perClass };
}
