/**
 * The layer handlers, one table keyed by TF.js class name, grouped by family the way
 * tfjs-converter groups its op executors. A class converts exactly when it has a handler here:
 * adding a layer is adding one entry to its family's table.
 */
import type { HandlerTable } from '../emitter';
import { activationLayers } from './activation';
import { convLayers } from './conv';
import { denseLayers } from './dense';
import { mergeLayers } from './merge';
import { noOpLayers } from './noop';
import { normalizationLayers } from './normalization';
import { poolingLayers } from './pooling';
import { shapeLayers } from './shape';

export { ACTIVATIONS } from './activation';

const families: HandlerTable[] = [convLayers, denseLayers, poolingLayers, normalizationLayers, activationLayers, shapeLayers, mergeLayers, noOpLayers];

function merge(tables: HandlerTable[]): Readonly<HandlerTable> {
  const all: HandlerTable = Object.create(null);
  for (const t of tables) {
    for (const [cls, h] of Object.entries(t)) {
      if (cls in all) throw new Error(`internal: two ONNX handlers for ${cls}`);
      all[cls] = h;
    }
  }
  return Object.freeze(all);
}

export const LAYER_HANDLERS = merge(families);
