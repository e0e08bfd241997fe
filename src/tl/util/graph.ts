/** The parts of a tfjs-layers graph that its public types do not show: layers' inbound nodes. */
import type * as tf from '@tensorflow/tfjs';

export type Layer = tf.layers.Layer;

/** A call of a layer in the graph: the tensors it took and gave, and its call arguments. */
export interface NodeLike {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
  callArgs?: Record<string, unknown>;
}

/** The node that produced `t`, when tfjs-layers recorded one. */
export function producer(t: tf.SymbolicTensor): NodeLike | undefined {
  return (t.sourceLayer as unknown as { inboundNodes: NodeLike[] }).inboundNodes[t.nodeIndex];
}
