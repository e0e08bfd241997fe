/** Layer map shaping: grouping long models into blocks, and the counts shown at the top. */
import type { LayerInfo } from '../../src/common/shapes';

/** From this many layers on, the map shows collapsible blocks instead of one flat strip. */
export const GROUP_THRESHOLD = 150;
/** When a model has no usable block names, blocks are runs of this many layers. */
export const CHUNK_SIZE = 20;

export type FreezeState = 'frozen' | 'trainable' | 'mixed';

export interface LayerGroup {
  /** Block name, or "layers 40–59" for a fallback chunk. */
  label: string;
  /** Positions in the (index-sorted) layers array, inclusive. */
  start: number;
  end: number;
  count: number;
  frozen: number;
  trainable: number;
  bnInference: number;
  trainableParams: number;
  nonTrainableParams: number;
  state: FreezeState;
}

function makeGroup(layers: readonly LayerInfo[], label: string, start: number, end: number): LayerGroup {
  const g: LayerGroup = { label, start, end, count: end - start + 1, frozen: 0, trainable: 0, bnInference: 0, trainableParams: 0, nonTrainableParams: 0, state: 'mixed' };
  for (let i = start; i <= end; i++) {
    const l = layers[i];
    if (l.trainable) g.trainable++;
    else g.frozen++;
    if (l.bnInference) g.bnInference++;
    g.trainableParams += l.trainableParams;
    g.nonTrainableParams += l.nonTrainableParams;
  }
  g.state = g.frozen === 0 ? 'trainable' : g.trainable === 0 ? 'frozen' : 'mixed';
  return g;
}

/**
 * Consecutive layers with the same `block` form a group. Layers without a block, or models whose
 * blocks are mostly single layers, fall back to fixed-size chunks so the map stays short.
 */
export function groupLayers(layers: readonly LayerInfo[], chunk = CHUNK_SIZE): LayerGroup[] {
  const groups: LayerGroup[] = [];
  let start = 0;
  for (let i = 1; i <= layers.length; i++) {
    if (i === layers.length || layers[i].block !== layers[start].block || !layers[start].block) {
      groups.push(makeGroup(layers, layers[start].block || layers[start].name, start, i - 1));
      start = i;
    }
  }
  const named = layers.filter((l) => l.block).length;
  if (layers.length && (groups.length > layers.length / 3 || named < layers.length / 2)) {
    const chunks: LayerGroup[] = [];
    for (let s = 0; s < layers.length; s += chunk) {
      const e = Math.min(layers.length, s + chunk) - 1;
      chunks.push(makeGroup(layers, `layers ${layers[s].index}–${layers[e].index}`, s, e));
    }
    return chunks;
  }
  return groups;
}

export function shouldGroup(layers: readonly LayerInfo[]): boolean {
  return layers.length >= GROUP_THRESHOLD;
}

export interface LayerCounts {
  layers: number;
  frozen: number;
  trainable: number;
  bnInference: number;
}

export function countLayers(layers: readonly LayerInfo[]): LayerCounts {
  let frozen = 0, bnInference = 0;
  for (const l of layers) {
    if (!l.trainable) frozen++;
    if (l.bnInference) bnInference++;
  }
  return { layers: layers.length, frozen, trainable: layers.length - frozen, bnInference };
}
