/**
 * OnnxSentenceEncoder: where an ONNX sentence encoder sits in a TF.js model. The encoder itself runs
 * in ONNX Runtime before the model (tokenizer → encoder → pooling, see sentenceEncoder.ts), and the
 * model's input is its pooled vector; this layer passes that vector on unchanged and stands for the
 * encoder in the model's graph: the freeze map shows it frozen, withHead cuts after it, the
 * embedding cache caches its output, tl.unfreeze refuses it, and disposing the last model that uses
 * it releases the encoder's ONNX Runtime session. Registered for serialization.
 */
import * as tf from '@tensorflow/tfjs';

export const ENCODER_LAYER_CLASS = 'OnnxSentenceEncoder';

interface EncoderLayerConfig {
  /** Numbers a text: the pooled vector's length. */
  dim: number;
  /** The encoder's file name, for the model's config. */
  source?: string;
  name?: string;
}

export class OnnxSentenceEncoder extends tf.layers.Layer {
  static className = ENCODER_LAYER_CLASS;
  readonly dim: number;
  readonly source: string;
  private encoder?: { release(): Promise<void> };

  constructor(config: EncoderLayerConfig) {
    super({ name: config.name, trainable: false });
    if (!(Number.isInteger(config.dim) && config.dim > 0)) throw new Error(`OnnxSentenceEncoder: dim must be a positive whole number, got ${config.dim}.`);
    this.dim = config.dim;
    this.source = String(config.source ?? '');
  }

  /** The encoder whose session is released with this layer. */
  attach(encoder: { release(): Promise<void> }): void {
    this.encoder = encoder;
  }

  override get trainable(): boolean {
    return false;
  }

  override set trainable(value: boolean) {
    if (value) throw new Error(unfreezeError(this.name));
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (s[s.length - 1] !== this.dim) throw new Error(`OnnxSentenceEncoder '${this.name}': input [${s.join(', ')}] is not the encoder's ${this.dim} numbers a text.`);
    return s;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return Array.isArray(inputs) ? inputs[0] : inputs;
  }

  override dispose(): ReturnType<tf.layers.Layer['dispose']> {
    const r = super.dispose();
    if (r.refCountAfterDispose === 0) void this.encoder?.release().catch((e) => console.warn(`sentence encoder: could not release its ONNX Runtime session: ${(e as Error).message}`));
    return r;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), trainable: false, dim: this.dim, source: this.source };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new cls(config as unknown as EncoderLayerConfig);
  }
}

tf.serialization.registerClass(OnnxSentenceEncoder);

export function isEncoderLayer(layer: { getClassName(): string }): boolean {
  return layer.getClassName() === ENCODER_LAYER_CLASS;
}

/** What tl.unfreeze says about the encoder. */
export function unfreezeError(name: string): string {
  return (
    `unfreeze(): '${name}' is an ONNX sentence encoder: it runs in ONNX Runtime, which computes no gradients here, so it stays frozen. ` +
    `Train the head (its layers are head_*), or fine-tune the encoder in PyTorch and export it again.`
  );
}
