/**
 * TextPooling: one vector per text from its token vectors, over the real tokens only. Takes
 * [tokenIds, embedded]: ids are 0 for padding and for unknown words, which then count for nothing.
 * 'mean' averages, 'max' takes each number's largest value, 'mean+max' puts both side by side.
 * A text with no known word gives zeros. Registered for serialization, so saved models load back.
 */
import * as tf from '@tensorflow/tfjs';
import type { TextPooling as PoolingMode } from './types';

interface PoolingConfig extends tf.serialization.ConfigDict {
  mode: PoolingMode;
}

export class TextPooling extends tf.layers.Layer {
  static className = 'TextPooling';
  readonly mode: PoolingMode;

  constructor(config: { mode?: PoolingMode; name?: string; trainable?: boolean }) {
    super({ name: config.name, trainable: config.trainable });
    this.mode = config.mode ?? 'mean';
    if (!['mean', 'max', 'mean+max'].includes(this.mode)) throw new Error(`TextPooling: mode must be 'mean', 'max' or 'mean+max', got ${JSON.stringify(this.mode)}.`);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const emb = (inputShape as tf.Shape[])[1];
    const dim = emb[emb.length - 1] as number;
    return [emb[0], this.mode === 'mean+max' ? 2 * dim : dim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [ids, emb] = inputs as tf.Tensor[];
      const mask = tf.cast(tf.greater(ids, 0), 'float32').expandDims(2) as tf.Tensor3D;
      const parts: tf.Tensor[] = [];
      if (this.mode !== 'max') {
        const count = tf.maximum(tf.sum(mask, 1), 1);
        parts.push(tf.div(tf.sum(tf.mul(emb, mask), 1), count));
      }
      if (this.mode !== 'mean') {
        // Padding rows sink far below any real value; a text with no known word gives zeros.
        const max = tf.max(tf.add(emb, tf.mul(tf.sub(mask, 1), 1e9)), 1);
        const any = tf.greater(tf.sum(mask, 1), 0);
        parts.push(tf.where(tf.broadcastTo(any, max.shape), max, tf.zerosLike(max)));
      }
      return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), mode: this.mode };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new cls(config as PoolingConfig);
  }
}

tf.serialization.registerClass(TextPooling);
