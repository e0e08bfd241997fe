/**
 * Layer classes grouped by how they behave at inference, shared by the ONNX converter and the
 * embedding cache so the two cannot disagree.
 */

/**
 * Layers that are the identity at inference and random only in training: dropout and noise. The
 * ONNX converter emits them as nothing; the embedding cache refuses them in a base (a training
 * step would see different features than the cached ones).
 *
 * SpatialDropout2D/3D are Keras classes TF.js does not ship; a model that registers them gets
 * Keras' meaning, identity at inference, at any rank.
 */
export const INFERENCE_NO_OP_LAYERS: ReadonlySet<string> = new Set([
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'SpatialDropout3D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
]);

/**
 * Layers whose output is random at every call. TF.js' RandomWidth resizes to a random width in
 * inference too (its call() ignores `training`), so it is not an inference no-op: the converter
 * refuses it and the embedding cache refuses it.
 */
export const RANDOM_AT_INFERENCE_LAYERS: ReadonlySet<string> = new Set(['RandomWidth']);

/** Layers whose output can differ from call to call, in training or in inference. */
export const RANDOM_LAYERS: ReadonlySet<string> = new Set([...INFERENCE_NO_OP_LAYERS, ...RANDOM_AT_INFERENCE_LAYERS]);
