/** Activations: the Activation layer, the activation layers, and the `activation` option of Conv and Dense. */
import type { Emitter, HandlerTable, Val } from '../emitter';

/** The activation names that convert, as `activation` options and as Activation layers. */
export const ACTIVATIONS = new Set(['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'softplus', 'softsign', 'elu', 'selu', 'hardSigmoid', 'swish', 'mish']);

/** Emits activation `act` on `x` (of shape and layout `v`); returns the activated value's name. */
export function emitActivation(em: Emitter, act: string, x: string, v: Omit<Val, 'name'>, hint: string): string {
  const g = em.g;
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return g.one('Relu', [x], hint);
    case 'relu6':
      return g.one('Clip', [x, g.scalar(`${hint}/min`, 0), g.scalar(`${hint}/max`, 6)], hint);
    case 'sigmoid':
      return g.one('Sigmoid', [x], hint);
    case 'tanh':
      return g.one('Tanh', [x], hint);
    case 'softmax':
      return g.one('Softmax', [x], hint, { axis: { i: em.axis({ ...v, name: x }, -1) } });
    case 'softplus':
      return g.one('Softplus', [x], hint);
    case 'softsign':
      return g.one('Softsign', [x], hint);
    case 'elu':
      return g.one('Elu', [x], hint, { alpha: { f: 1 } });
    case 'selu':
      return g.one('Selu', [x], hint);
    case 'hardSigmoid':
      return g.one('HardSigmoid', [x], hint, { alpha: { f: 0.2 }, beta: { f: 0.5 } });
    case 'swish':
      return g.one('Mul', [x, g.one('Sigmoid', [x], `${hint}/sigmoid`)], hint);
    case 'mish':
      return g.one('Mul', [x, g.one('Tanh', [g.one('Softplus', [x], `${hint}/softplus`)], `${hint}/tanh`)], hint);
    default:
      throw new Error(`activation '${act}'`);
  }
}

export const activationLayers: HandlerTable = {
  Activation: {
    check: ({ cfg }) => (!ACTIVATIONS.has(cfg.activation) ? `activation '${cfg.activation}'` : undefined),
    emit: ({ em, cfg, x, name, out }) => out(emitActivation(em, cfg.activation, x.name, x, name), x.layout),
  },
  ReLU: {
    emit: ({ g, cfg, x, name, out }) => {
      const y = cfg.maxValue === null || cfg.maxValue === undefined ? g.one('Relu', [x.name], name) : g.one('Clip', [x.name, g.scalar(`${name}/min`, 0), g.scalar(`${name}/max`, cfg.maxValue)], name);
      return out(y, x.layout);
    },
  },
  LeakyReLU: {
    emit: ({ g, cfg, x, name, out }) => out(g.one('LeakyRelu', [x.name], name, { alpha: { f: cfg.alpha ?? 0.3 } }), x.layout),
  },
  ELU: {
    emit: ({ g, cfg, x, name, out }) => out(g.one('Elu', [x.name], name, { alpha: { f: cfg.alpha ?? 1 } }), x.layout),
  },
  ThresholdedReLU: {
    emit: ({ g, cfg, x, name, out }) => out(g.one('ThresholdedRelu', [x.name], name, { alpha: { f: cfg.theta ?? 1 } }), x.layout),
  },
  Softmax: {
    check: ({ cfg }) => (Array.isArray(cfg.axis) && cfg.axis.length !== 1 ? `softmax over several axes` : undefined),
    emit: ({ em, g, cfg, x, name, out }) => {
      const a = Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis ?? -1;
      return out(g.one('Softmax', [x.name], name, { axis: { i: em.axis(x, a) } }), x.layout);
    },
  },
};
