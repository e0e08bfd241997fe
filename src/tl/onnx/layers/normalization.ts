/**
 * Normalisation and rescaling.
 *
 * BatchNormalization is emitted as ONNX BatchNormalization (inference: moving statistics, as a
 * frozen Keras base runs) and then folded into the Conv or Dense before it (see ir.ts).
 */
import { readWeights, type EmitArgs, type HandlerTable, type Val } from '../emitter';

function batchNorm({ em, g, layer, cfg, x, name, out }: EmitArgs): Val[] {
  const w = readWeights(layer);
  let i = 0;
  const channels = x.shape[x.shape.length - 1] as number;
  const gamma = cfg.scale === false ? new Float32Array(channels).fill(1) : w[i++];
  const beta = cfg.center === false ? new Float32Array(channels) : w[i++];
  const mean = w[i++];
  const variance = w[i++];
  const eps = cfg.epsilon ?? 1e-3;
  if (x.shape.length === 4 || x.shape.length === 2) {
    const input = x.shape.length === 4 ? em.nchw(x) : x.name;
    const y = g.one(
      'BatchNormalization',
      [input, g.floats(`${name}/gamma`, [channels], gamma), g.floats(`${name}/beta`, [channels], beta), g.floats(`${name}/moving_mean`, [channels], mean), g.floats(`${name}/moving_variance`, [channels], variance)],
      name,
      { epsilon: { f: eps } },
    );
    return out(y, x.shape.length === 4 ? 'nchw' : 'plain');
  }
  // Other ranks: a per-channel affine map on the last axis, broadcast.
  const s = new Float32Array(channels);
  const b = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    s[c] = gamma[c] / Math.sqrt(variance[c] + eps);
    b[c] = beta[c] - mean[c] * s[c];
  }
  const scaled = g.one('Mul', [em.plain(x), g.floats(`${name}/scale`, [channels], s)], `${name}/mul`);
  return out(g.one('Add', [scaled, g.floats(`${name}/shift`, [channels], b)], name), 'plain');
}

export const normalizationLayers: HandlerTable = {
  BatchNormalization: {
    check: ({ cfg, rank }) => {
      const axis = Array.isArray(cfg.axis) ? cfg.axis : [cfg.axis ?? -1];
      if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== rank - 1)) return `normalisation over axis ${JSON.stringify(cfg.axis)} (only the channel axis converts)`;
      return undefined;
    },
    emit: batchNorm,
  },
  Rescaling: {
    emit: ({ g, cfg, x, name, out }) => {
      const scaled = g.one('Mul', [x.name, g.scalar(`${name}/scale`, cfg.scale)], `${name}/mul`);
      return out(g.one('Add', [scaled, g.scalar(`${name}/offset`, cfg.offset ?? 0)], name), x.layout);
    },
  },
};
