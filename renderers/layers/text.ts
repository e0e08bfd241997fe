/** Words for one layer: the cell's accessible name and the details panel. */
import type { LayerInfo, LayerMap } from '../../src/common/shapes';
import { formatInt, formatShape } from '../shaping/format';

export function layerAriaLabel(l: LayerInfo, cut = false): string {
  const params = l.trainableParams + l.nonTrainableParams;
  let s = `${l.index}: ${l.name} (${l.className || 'layer'}), ${l.trainable ? 'trainable' : 'frozen'}, ${formatInt(params)} params`;
  if (l.bnInference) s += ', BatchNormalization in inference mode';
  if (l.unused) s += ', unused: after the cut';
  if (cut) s += ', cut: the head takes this output';
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
  if (l.unused) rows.push(['Cut', 'after the cut: the model with the head does not use this layer']);
  return rows;
}

/** The line under the freeze map's title that says where withHead cut, or '' without a cut. */
export function cutText(map: LayerMap): string {
  const c = map.cut;
  if (!c) return '';
  const unused = map.layers.filter((l) => l.unused).length;
  const where = c.model ? `${c.model} takes the output of ${c.index} ${c.layer}; the ${unused} layer(s) after it are not part of it` : `the head takes the output of ${c.index} ${c.layer}`;
  return `Cut: ${where} (${c.reason}).`;
}
