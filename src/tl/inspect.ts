/**
 * A model's layers as plain data (LayerInfo), grouped into blocks, and the freeze map that shows them.
 *
 * Block rule, in order:
 *  1. Names that follow a known family's scheme take the family's block name:
 *     `head_*` (layers added by withHead) → `head`; MobileNetV2 `block_13_expand` → `block_13`;
 *     `expanded_conv_3_*` → `expanded_conv_3` and `expanded_conv_*` → `expanded_conv`;
 *     EfficientNet/VGG `block2a_*`/`block1_conv1` → `block2a`/`block1`; ResNet `conv3_block2_*` → `conv3_block2`;
 *     MobileNet v1 `conv_dw_5*`/`conv_pw_5*`/`conv_pad_5` → `conv_block_5`.
 *  2. Otherwise by structure: normalisation, activation, dropout and pooling layers whose only input is
 *     the layer just before them join that layer's block (conv → BN → ReLU → pool is one block, named
 *     after the conv). Input layers form the block `input`. Any other layer starts a block named after itself.
 * `{ lastBlocks: N }` counts only blocks that hold weights, so pooling/flatten/input blocks do not use up N.
 */
import * as tf from '@tensorflow/tfjs';
import { MIME, TEXT_PLAIN } from '../common/mime';
import { DISPLAY_SYMBOL, type MimeBundle } from '../common/display';
import type { CutMark, LayerInfo, LayerMap } from '../common/shapes';
import { cutOf } from './cut';
import { getMeta } from './models/meta';
import type { Layer } from './util/graph';
import { printable } from './util/text';
import { describeTextInfo } from './text/types';

type Shape = (number | null)[];

// --- names

const PREFIX_RULES: [RegExp, (m: RegExpMatchArray) => string][] = [
  [/^head(_|$)/, () => 'head'],
  [/^(block_\d+)_/, (m) => m[1]],
  [/^(expanded_conv_\d+)_/, (m) => m[1]],
  [/^(expanded_conv)_/, (m) => m[1]],
  [/^(block\d+[a-z]?)_/, (m) => m[1]],
  [/^(conv\d+_block\d+)_/, (m) => m[1]],
  [/^conv_(?:dw|pw|pad)_(\d+)(?:_|$)/, (m) => `conv_block_${m[1]}`],
];

const FOLLOWERS = new Set([
  'BatchNormalization',
  'LayerNormalization',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'PReLU',
  'Softmax',
  'ThresholdedReLU',
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  'MaxPooling1D',
  'MaxPooling2D',
  'AveragePooling1D',
  'AveragePooling2D',
]);

function prefixBlock(name: string): string | undefined {
  for (const [re, f] of PREFIX_RULES) {
    const m = name.match(re);
    if (m) return f(m);
  }
  return undefined;
}

interface LayerInternals {
  inboundNodes?: { inboundLayers?: Layer[] }[];
  _trainableWeights?: tf.LayerVariable[];
}

function inboundLayers(layer: Layer): Layer[] {
  const nodes = (layer as unknown as LayerInternals).inboundNodes ?? [];
  return nodes[0]?.inboundLayers ?? [];
}

/** Block names for a list of layers (see the rule at the top of this file). */
export function blocksOf(layerList: Layer[]): string[] {
  const out: string[] = [];
  layerList.forEach((layer, i) => {
    const byName = prefixBlock(layer.name);
    if (byName) {
      out.push(byName);
      return;
    }
    const cls = layer.getClassName();
    if (cls === 'InputLayer') {
      out.push('input');
      return;
    }
    const prev = i > 0 ? layerList[i - 1] : undefined;
    const inbound = inboundLayers(layer);
    if (prev && FOLLOWERS.has(cls) && inbound.length === 1 && inbound[0] === prev && out[i - 1] !== 'input') {
      out.push(out[i - 1]);
      return;
    }
    out.push(layer.name);
  });
  return out;
}

/**
 * A layer counts as frozen when its flag is off, or when all its trainable-kind weights were switched
 * off from outside (tfjs's `model.trainable = false` flips the weights of nested layers, not their flags).
 */
export function isFrozen(layer: Layer): boolean {
  if (!layer.trainable) return true;
  const own = (layer as unknown as LayerInternals)._trainableWeights ?? [];
  return own.length > 0 && own.every((w) => !w.trainable);
}

function countParams(weights: tf.LayerVariable[]): number {
  let n = 0;
  for (const w of weights) n += w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
  return n;
}

function outputShapeOf(layer: Layer): Shape | Shape[] {
  try {
    return layer.outputShape as Shape | Shape[];
  } catch {
    // A layer used at several places with different shapes has no single outputShape.
    const nodes = (layer as unknown as { inboundNodes?: { outputShapes?: Shape | Shape[] }[] }).inboundNodes ?? [];
    return nodes[0]?.outputShapes ?? [];
  }
}

// --- layers as data

function graphModelRow(model: tf.GraphModel): LayerInfo {
  let params = 0;
  for (const list of Object.values(model.weights)) for (const t of list) params += t.size;
  const shapes = model.outputs.map((o) => (o.shape ?? []).map((d) => (d === -1 ? null : d)) as Shape);
  return {
    index: 0,
    name: getMeta(model)?.name ?? 'graph model',
    className: 'GraphModel',
    outputShape: shapes.length === 1 ? shapes[0] : shapes,
    trainableParams: 0,
    nonTrainableParams: params,
    trainable: false,
    block: 'graph',
  };
}

/** One LayerInfo per top-level layer, in model order. A graph model shows as one frozen row. */
export function layers(model: tf.LayersModel | tf.GraphModel): LayerInfo[] {
  if (model instanceof tf.GraphModel) return [graphModelRow(model)];
  if (!(model instanceof tf.LayersModel)) throw new Error('tl.layers(model): expected a TF.js LayersModel or GraphModel.');
  const list = model.layers;
  const blocks = blocksOf(list);
  return list.map((layer, index) => {
    const cls = layer.getClassName();
    const frozen = isFrozen(layer);
    const info: LayerInfo = {
      index,
      name: layer.name,
      className: cls,
      outputShape: outputShapeOf(layer),
      trainableParams: countParams(layer.trainableWeights),
      nonTrainableParams: countParams(layer.nonTrainableWeights),
      trainable: !frozen,
      block: blocks[index],
    };
    if (cls === 'BatchNormalization') info.bnInference = frozen;
    return info;
  });
}

/** Where withHead cut this model (the model with the head) or this base; marks the base's unused layers. */
function markCut(model: tf.LayersModel | tf.GraphModel, ls: LayerInfo[]): CutMark | undefined {
  const rec = cutOf(model);
  const at = rec ? ls.findIndex((l) => l.name === rec.layer) : -1;
  if (!rec || at < 0) return undefined;
  const isBase = rec.dropped.length > 0 && rec.dropped.every((n) => ls.some((l) => l.name === n));
  if (!isBase) return { index: ls[at].index, layer: rec.layer, reason: rec.reason };
  for (const l of ls) if (rec.dropped.includes(l.name)) l.unused = true;
  return { index: ls[at].index, layer: rec.layer, reason: rec.reason, model: rec.model };
}

export function summary(model: tf.LayersModel | tf.GraphModel): LayerMap {
  const ls = layers(model);
  const trainable = ls.reduce((a, l) => a + l.trainableParams, 0);
  const nonTrainable = ls.reduce((a, l) => a + l.nonTrainableParams, 0);
  const cut = markCut(model, ls);
  const text = getMeta(model)?.text;
  return {
    kind: 'layers',
    version: 1,
    modelName: getMeta(model)?.name ?? (model instanceof tf.LayersModel ? model.name : 'graph model'),
    layers: ls,
    totals: { trainable, nonTrainable, total: trainable + nonTrainable },
    ...(cut ? { cut } : {}),
    ...(text ? { input: describeTextInfo(text) } : {}),
  };
}

// --- text table

const fmtInt = (n: number) => n.toLocaleString('en-US');

function fmtShape(s: LayerInfo['outputShape']): string {
  const one = (x: (number | null)[]) => `[${x.map((d) => (d === null ? 'null' : String(d))).join(',')}]`;
  if (s.length > 0 && Array.isArray(s[0])) return (s as (number | null)[][]).map(one).join(' ');
  return one(s as (number | null)[]);
}

function stateOf(l: LayerInfo): string {
  if (l.unused) return 'unused (after the cut)';
  if (l.bnInference) return 'frozen (BN inference)';
  // Weightless layers (input, ReLU, pooling) have nothing to freeze, whatever their flag says.
  if (l.trainableParams + l.nonTrainableParams === 0 && l.className !== 'GraphModel') return '-';
  return l.trainable ? 'trainable' : 'frozen';
}

/** An aligned plain-text table of the layer map, for consoles and the notebook's text fallback. */
export function formatLayerTable(map: LayerMap): string {
  const header = ['#', 'layer', 'type', 'output shape', 'params', 'state', 'block'];
  const rows = map.layers.map((l) => [
    String(l.index),
    l.name,
    l.className,
    fmtShape(l.outputShape),
    fmtInt(l.trainableParams + l.nonTrainableParams),
    stateOf(l),
    l.block,
  ]);
  const right = new Set([0, 4]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  const t = map.totals;
  const title =
    `Model: ${map.modelName} — ${map.layers.length} layers, ${fmtInt(t.total)} params ` +
    `(${fmtInt(t.trainable)} trainable, ${fmtInt(t.nonTrainable)} non-trainable)`;
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const body = rows.map(line);
  const cut = map.cut;
  const at = cut ? map.layers.findIndex((l) => l.index === cut.index) : -1;
  if (cut && at >= 0) body.splice(at + 1, 0, cutRule(cut));
  return [title, ...(map.input ? [printable(map.input)] : []), line(header), rule, ...body].join('\n');
}

/** The line under the cut layer in the text table. */
function cutRule(cut: CutMark): string {
  const where = cut.model ? `'${printable(cut.model)}' takes this output; the layers below are not part of it` : 'the head takes this output';
  return `==== cut: ${where} (${cut.reason}) ====`;
}

/** The freeze map as a notebook output: the renderer's layer map plus the text table. */
export function freezeMapBundle(model: tf.LayersModel | tf.GraphModel): MimeBundle {
  const map = summary(model);
  return { [MIME.layers]: map, [TEXT_PLAIN]: formatLayerTable(map) };
}

/** Makes a model that is a cell's last value show its freeze map (the kernel calls DISPLAY_SYMBOL). */
export function installModelDisplay(): void {
  for (const proto of [tf.LayersModel.prototype, tf.GraphModel.prototype] as object[]) {
    if (Object.prototype.hasOwnProperty.call(proto, DISPLAY_SYMBOL)) continue;
    Object.defineProperty(proto, DISPLAY_SYMBOL, {
      value: function (this: tf.LayersModel | tf.GraphModel): MimeBundle {
        return freezeMapBundle(this);
      },
      enumerable: false,
      configurable: true,
      writable: true,
    });
  }
}

// --- close matches for error messages

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** Up to `max` candidates close to `name`: substrings first, then by edit distance. */
export function closeMatches(name: string, candidates: string[], max = 5): string[] {
  const n = name.toLowerCase();
  const scored = candidates.map((c) => {
    const l = c.toLowerCase();
    const contains = l.includes(n) || n.includes(l);
    return { c, d: editDistance(n, l), contains };
  });
  const limit = Math.max(2, Math.floor(n.length / 3));
  return scored
    .filter((s) => s.contains || s.d <= limit)
    .sort((a, b) => Number(b.contains) - Number(a.contains) || a.d - b.d)
    .slice(0, max)
    .map((s) => s.c);
}
