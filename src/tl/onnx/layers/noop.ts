/** Layers that emit nothing: the inference no-ops (dropout, noise) pass their input through. */
import { INFERENCE_NO_OP_LAYERS } from '../../layerKinds';
import type { HandlerTable, LayerHandler } from '../emitter';

const passThrough: LayerHandler = { emit: ({ x, outShape }) => [{ ...x, shape: outShape }] };

export const noOpLayers: HandlerTable = {
  // Never a call in practice (the model's and nested models' inputs are given), the identity if it were.
  InputLayer: passThrough,
  ...Object.fromEntries([...INFERENCE_NO_OP_LAYERS].map((cls) => [cls, passThrough])),
};
