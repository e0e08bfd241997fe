/**
 * An unfrozen word-vector table learns at a fraction of the learning rate (ModelMeta.text.fineTuneRate,
 * 0.1 by default): pretrained vectors of words the small data set never shows drift apart from
 * those it does if they move at the head's rate. Each batch's update of the table is scaled after
 * the optimizer's step — for any optimizer, where scaling the gradient would be undone by Adam.
 */
import * as tf from '@tensorflow/tfjs';
import { getMeta } from '../../models/meta';
import type { TrainingCallback, TrainingState } from './callback';

interface LayerVariableLike {
  read(): tf.Tensor;
  write(v: tf.Tensor): void;
}

export class EmbeddingRate implements TrainingCallback {
  private before?: tf.Tensor;

  private constructor(
    private readonly variable: LayerVariableLike,
    readonly rate: number,
  ) {}

  /** The callback when `model` has an unfrozen text table with a rate below 1, else undefined. */
  static of(state: TrainingState): EmbeddingRate | undefined {
    const info = getMeta(state.model)?.text;
    if (!info?.embeddingLayer || !(info.fineTuneRate < 1)) return undefined;
    const layer = state.model.layers.find((l) => l.name === info.embeddingLayer);
    if (!layer || !layer.trainable || layer.trainableWeights.length !== 1) return undefined;
    return new EmbeddingRate(layer.trainableWeights[0] as unknown as LayerVariableLike, info.fineTuneRate);
  }

  onBatchBegin(): void {
    this.before?.dispose();
    this.before = tf.clone(this.variable.read());
  }

  onBatchEnd(): void {
    const before = this.before;
    if (!before) return;
    const scaled = tf.tidy(() => tf.add(before, tf.mul(tf.sub(this.variable.read(), before), this.rate)));
    this.variable.write(scaled);
    scaled.dispose();
    before.dispose();
    this.before = undefined;
  }

  release(): void {
    this.before?.dispose();
    this.before = undefined;
  }
}
