/**
 * Keras semantics for a frozen BatchNormalization: it normalises with its moving statistics and
 * leaves them unchanged, also in fit(). Any module that relies on it imports this one.
 */
import * as tf from '@tensorflow/tfjs';
import { isFrozen } from './inspect';
import type { Layer } from './util/graph';

const PATCHED = Symbol.for('transfer-lab.bn-inference-when-frozen');

type CallFn = (this: Layer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

function batchNormPrototype(): { call: CallFn; [PATCHED]?: boolean } {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap['BatchNormalization'];
  if (!entry) throw new Error('tfjs-layers has no BatchNormalization class registered.');
  return (entry[0] as unknown as { prototype: { call: CallFn; [PATCHED]?: boolean } }).prototype;
}

/** The fields of tfjs-layers' BatchNormalization that the folded form reads. */
interface BatchNormFields {
  axis: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma?: tf.LayerVariable;
  beta?: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

/**
 * A frozen BatchNormalization as x · s + t, with s = γ / √(σ² + ε) and t = β − μ · s over the
 * channel axis. Same values as tfjs's batchNorm (to rounding), but its gradient is one broadcast
 * multiply: tfjs's FusedBatchNorm gradient tiles 1/√(σ² + ε) to the input's full shape, and on
 * wasm that Tile took 1.5 of 8 s of a MobileNetV2 fine-tune step. Undefined when the channel axis
 * is not the last one.
 */
function foldedFrozen(layer: Layer, inputs: tf.Tensor | tf.Tensor[]): tf.Tensor | undefined {
  const x = Array.isArray(inputs) ? inputs[0] : inputs;
  if (Array.isArray(inputs) && inputs.length !== 1) return undefined;
  const bn = layer as unknown as BatchNormFields;
  if (!bn.movingMean || !bn.movingVariance || (bn.axis !== -1 && bn.axis !== x.rank - 1)) return undefined;
  const inv = tf.rsqrt(tf.add(bn.movingVariance.read(), bn.epsilon));
  const s = bn.scale && bn.gamma ? tf.mul(inv, bn.gamma.read()) : inv;
  const t = tf.sub(bn.center && bn.beta ? bn.beta.read() : tf.scalar(0), tf.mul(bn.movingMean.read(), s));
  return tf.add(tf.mul(x, s), t);
}

/**
 * Makes a frozen BatchNormalization normalise with its moving statistics and leave them unchanged,
 * even in training-mode calls (fit). tfjs-layers 4.22 decides only by the `training` kwarg, so the
 * kwarg is turned off for frozen layers. Idempotent, also across copies of this module.
 */
export function installBatchNormFix(): void {
  const proto = batchNormPrototype();
  if (proto[PATCHED]) return;
  const original = proto.call;
  const patched: CallFn = function (this: Layer, inputs, kwargs) {
    if (kwargs && kwargs['training'] && isFrozen(this)) {
      // In training (the rest of the model trains), the folded form: its gradient is cheaper.
      const folded = foldedFrozen(this, inputs);
      if (folded) return folded;
      kwargs = { ...kwargs, training: false };
    }
    return original.call(this, inputs, kwargs);
  };
  proto.call = patched;
  Object.defineProperty(proto, PATCHED, { value: true, enumerable: false });
}

// The one place the fix is applied: importing this module installs it.
installBatchNormFix();
