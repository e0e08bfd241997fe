/** Optimizers by name, and reading or changing an optimizer's learning rate between steps. */
import * as tf from '@tensorflow/tfjs';
import { fusedAdam } from './fusedAdam';

export type OptimizerName = 'adam' | 'sgd' | 'momentum' | 'rmsprop' | 'adagrad' | 'adadelta' | 'adamax';

export function makeOptimizer(name: OptimizerName | string, lr: number): tf.Optimizer {
  switch (name.toLowerCase()) {
    case 'adam':
      return fusedAdam(lr);
    case 'sgd':
      return tf.train.sgd(lr);
    case 'momentum':
      return tf.train.momentum(lr, 0.9);
    case 'rmsprop':
      return tf.train.rmsprop(lr);
    case 'adagrad':
      return tf.train.adagrad(lr);
    case 'adadelta':
      return tf.train.adadelta(lr);
    case 'adamax':
      return tf.train.adamax(lr);
    default:
      throw new Error(`Unknown optimizer '${name}'. Use adam, sgd, momentum, rmsprop, adagrad, adadelta, adamax or a tf.train optimizer.`);
  }
}

/** tf.Optimizer's instanceof check reads `.minimize` of its operand, so it throws on undefined. */
export function isOptimizer(x: unknown): x is tf.Optimizer {
  return typeof x === 'object' && x !== null && x instanceof tf.Optimizer;
}

interface LrOptimizer {
  learningRate?: number;
  setLearningRate?: (lr: number) => void;
}

/** The optimizer's current learning rate, when it has one. */
export function getLearningRate(opt: tf.Optimizer): number | undefined {
  const lr = (opt as unknown as LrOptimizer).learningRate;
  return typeof lr === 'number' ? lr : undefined;
}

/**
 * Changes a tfjs 4.22 optimizer's learning rate between steps. SGD (and Momentum, its subclass)
 * cache the rate as a tensor, so they must go through setLearningRate(); Adam, RMSProp, Adagrad,
 * Adadelta and Adamax read the plain `learningRate` field on every step.
 */
export function setLearningRate(opt: tf.Optimizer, lr: number): void {
  if (!(Number.isFinite(lr) && lr >= 0)) throw new Error(`learning rate must be a finite number ≥ 0, got ${lr}`);
  const o = opt as unknown as LrOptimizer;
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else if (typeof o.learningRate === 'number') o.learningRate = lr;
  else throw new Error(`${opt.getClassName()} has no learning rate that can be changed during training.`);
}

/** A new optimizer of the same kind and settings as `opt` (with `overrides`), without its state. */
export function cloneOptimizer(opt: tf.Optimizer, overrides: tf.serialization.ConfigDict = {}): tf.Optimizer {
  const cls = opt.constructor as unknown as { fromConfig: (c: unknown, cfg: tf.serialization.ConfigDict) => tf.Optimizer };
  return cls.fromConfig(cls, { ...opt.getConfig(), ...overrides });
}
