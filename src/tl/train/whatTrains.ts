/**
 * The one line fit() prints about what it trains: the head, or the head plus named base layers,
 * and the frozen prefix that the embedding cache runs once per image (or text). Worked out from the layers'
 * flags, never assumed.
 */
import type * as tf from '@tensorflow/tfjs';
import { blocksOf, isFrozen } from '../inspect';
import { getMeta } from '../models/meta';
import type { Layer } from '../util/graph';
import { printable } from '../util/text';

const fmt = (n: number) => n.toLocaleString('en-US');

function params(layer: Layer): number {
  let n = 0;
  for (const w of layer.trainableWeights) n += w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
  return n;
}

function quoted(names: readonly string[], max = 4): string {
  const q = names.map((n) => `'${printable(n)}'`);
  return q.length > max ? `${q.slice(0, max - 1).join(', ')}, …, ${q[q.length - 1]}` : q.join(', ');
}

/** The layers of `model` that train: trainable weights, not frozen. */
export function trainingLayers(model: tf.LayersModel): Layer[] {
  return model.layers.filter((l) => l.trainableWeights.length > 0 && !isFrozen(l));
}

/**
 * "trains: the head (…)" or "trains: the head and N base layer(s) in blocks … (…)", with the
 * trainable parameter count; `cachedUpTo` names the end of the cached frozen prefix.
 */
export function whatTrains(model: tf.LayersModel, cachedUpTo?: string): string {
  const list = model.layers;
  const blocks = blocksOf(list);
  const training = trainingLayers(model);
  const total = training.reduce((a, l) => a + params(l), 0);
  const isHead = (l: Layer) => blocks[list.indexOf(l)] === 'head';
  const head = training.filter(isHead);
  const base = training.filter((l) => !isHead(l));
  const baseBlocks = [...new Set(base.map((l) => blocks[list.indexOf(l)]))];
  let what: string;
  if (training.length === 0) what = 'nothing: every layer is frozen';
  else if (!list.some(isHead)) what = `${training.length} layer(s) (${quoted(training.map((l) => l.name))})`;
  else if (base.length === 0) what = `the head only (${quoted(head.map((l) => l.name))})`;
  else {
    what =
      `the head and ${base.length} base layer(s) in ${baseBlocks.length} block(s) ${quoted(baseBlocks)} (${quoted(base.map((l) => l.name))})` +
      (head.length ? '' : '; the head itself is frozen');
  }
  const sample = getMeta(model)?.text ? 'text' : 'image';
  const cache = cachedUpTo ? `; the frozen base up to '${printable(cachedUpTo)}' runs once per ${sample} (embedding cache)` : '';
  return `trains: ${what}, ${fmt(total)} parameter(s)${cache}.`;
}
