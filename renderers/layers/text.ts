/** Words for one layer: the cell's accessible name and the details panel. */
import type { LayerInfo } from '../../src/common/shapes';
import { formatInt, formatShape } from '../shaping/format';

export function layerAriaLabel(l: LayerInfo): string {
  const params = l.trainableParams + l.nonTrainableParams;
  let s = `${l.index}: ${l.name} (${l.className || 'layer'}), ${l.trainable ? 'trainable' : 'frozen'}, ${formatInt(params)} params`;
  if (l.bnInference) s += ', BatchNormalization in inference mode';
  return s;
}

export function detailRows(l: LayerInfo): [string, string][] {
  const rows: [string, string][] = [
    ['Index', String(l.index)],
    ['Class', l.className || '—'],
    ['Block', l.block || '—'],
    ['Output shape', formatShape(l.outputShape)],
    ['Trainable params', formatInt(l.trainableParams)],
    ['Non-trainable params', formatInt(l.nonTrainableParams)],
    ['State', l.trainable ? 'trainable' : 'frozen'],
  ];
  if (l.bnInference) rows.push(['BatchNorm', 'inference mode: uses its moving mean and variance, which stay fixed']);
  return rows;
}
