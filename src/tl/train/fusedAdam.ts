/**
 * tf.train.adam with each variable's step as one kernel on wasm (wasm-kernels/adam.ts). It is a
 * tfjs AdamOptimizer in every other way: the same class name, config, slots (named `<var>/m` and
 * `<var>/v`, made on first use), weights and serialization. On other backends, for gradients that
 * are not float32, and before registerWasmGradients() has run, it steps as tfjs does.
 */
import * as tf from '@tensorflow/tfjs';
import { ADAM_KERNEL, adamKernelUsable, type AdamAttrs } from '../wasm-kernels/adam';
import { gradientList } from './gradients';

interface Slot {
  originalName: string;
  variable: tf.Variable;
}

/** The AdamOptimizer fields tfjs 4.22 keeps out of its typings. */
interface AdamInternals {
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  incrementIterations(): void;
}

type Gradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];

function slot(slots: Slot[], i: number, name: string, value: tf.Variable, suffix: string): tf.Variable {
  slots[i] ??= { originalName: `${name}/${suffix}`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
  return slots[i].variable;
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Gradients): void {
    const list = gradientList(variableGradients);
    const fused = tf.getBackend() === 'wasm' && tf.getKernel(ADAM_KERNEL, 'wasm') !== undefined && adamKernelUsable(tf.backend()) && list.every((g) => !g.tensor || g.tensor.dtype === 'float32');
    if (!fused) return super.applyGradients(variableGradients);
    const self = this as unknown as AdamInternals;
    const attrs: AdamAttrs = { beta1: self.beta1, beta2: self.beta2, learningRate: self.learningRate, epsilon: self.epsilon };
    tf.tidy(() => {
      list.forEach(({ name, tensor: g }, i) => {
        const x = tf.engine().registeredVariables[name];
        const m = slot(self.accumulatedFirstMoment, i, name, x, 'm');
        const v = slot(self.accumulatedSecondMoment, i, name, x, 'v');
        if (!g) return;
        const inputs = { x, m, v, g, accBeta1: self.accBeta1, accBeta2: self.accBeta2 };
        const [x1, m1, v1] = tf.engine().runKernel(ADAM_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(m1);
        v.assign(v1);
        x.assign(x1);
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    self.incrementIterations();
  }
}

/** tf.train.adam(lr) with the fused step. */
export function fusedAdam(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number): tf.AdamOptimizer {
  return new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon);
}
