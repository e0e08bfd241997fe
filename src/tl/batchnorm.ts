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
    if (kwargs && kwargs['training'] && isFrozen(this)) kwargs = { ...kwargs, training: false };
    return original.call(this, inputs, kwargs);
  };
  proto.call = patched;
  Object.defineProperty(proto, PATCHED, { value: true, enumerable: false });
}

// The one place the fix is applied: importing this module installs it.
installBatchNormFix();
