/** Gradients as optimizers take them: a list of named tensors, or a map from variable name to tensor. */
import type * as tf from '@tensorflow/tfjs';

export type NamedTensor = { name: string; tensor: tf.Tensor };

/** The gradients as a list, in the order given (a map's in its key order), as tfjs's optimizers read them. */
export function gradientList(grads: tf.NamedTensorMap | readonly NamedTensor[]): NamedTensor[] {
  return Array.isArray(grads) ? [...grads] : Object.entries(grads as tf.NamedTensorMap).map(([name, tensor]) => ({ name, tensor }));
}
