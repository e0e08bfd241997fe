/** Dense: Gemm on a 2-D input, MatMul + Add on higher ranks (on the last axis, in NHWC order). */
import { readWeights, type HandlerTable } from '../emitter';
import { emitActivation } from './activation';

export const denseLayers: HandlerTable = {
  Dense: {
    emit: ({ em, g, layer, cfg, x, name, outShape, out }) => {
      const w = readWeights(layer);
      const units = cfg.units as number;
      const k = w[0].length / units;
      let y: string;
      if (x.shape.length === 2) {
        const inputs = [x.name, g.floats(`${name}/kernel`, [k, units], w[0])];
        if (cfg.useBias) inputs.push(g.floats(`${name}/bias`, [units], w[1]));
        y = g.one('Gemm', inputs, name);
      } else {
        y = g.one('MatMul', [em.plain(x), g.floats(`${name}/kernel`, [k, units], w[0])], `${name}/matmul`);
        if (cfg.useBias) y = g.one('Add', [y, g.floats(`${name}/bias`, [units], w[1])], name);
      }
      return out(emitActivation(em, cfg.activation ?? 'linear', y, { shape: outShape, layout: 'plain' }, `${name}/${cfg.activation}`), 'plain');
    },
  },
};
