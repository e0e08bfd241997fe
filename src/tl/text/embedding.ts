/**
 * TextEmbedding: the word-vector table as a layer, [n, L] ids → [n, L, dim]. Like Keras's
 * Embedding, but its gradient is a scatter-add of the batch's rows into the table's shape: TF.js's
 * own Gather gradient (UnsortedSegmentSum) loops over every vocabulary row on the cpu and wasm
 * backends, minutes a step for a 20k-word table. Registered for serialization.
 */
import * as tf from '@tensorflow/tfjs';

interface EmbeddingConfig {
  inputDim: number;
  outputDim: number;
  name?: string;
  trainable?: boolean;
}

/** Gathers rows of `table`; the gradient adds each row's upstream gradient back into a table-shaped tensor. */
const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [table, ids, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([ids]);
  const [rows, dim] = table.shape as [number, number];
  return {
    value: tf.gather(table, ids),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const idx = saved[0];
      const g = tf.scatterND(tf.reshape(idx, [-1, 1]), tf.reshape(dy as tf.Tensor, [-1, dim]), [rows, dim]);
      return [g, tf.zerosLike(idx)];
    },
  };
});

export class TextEmbedding extends tf.layers.Layer {
  static className = 'TextEmbedding';
  readonly inputDim: number;
  readonly outputDim: number;
  private table?: tf.LayerVariable;

  constructor(config: EmbeddingConfig) {
    super({ name: config.name, trainable: config.trainable });
    if (!(Number.isInteger(config.inputDim) && config.inputDim > 0 && Number.isInteger(config.outputDim) && config.outputDim > 0)) {
      throw new Error(`TextEmbedding: inputDim and outputDim must be positive whole numbers, got ${config.inputDim} and ${config.outputDim}.`);
    }
    this.inputDim = config.inputDim;
    this.outputDim = config.outputDim;
  }

  override build(): void {
    this.table = this.addWeight('embeddings', [this.inputDim, this.outputDim], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return [...(inputShape as tf.Shape), this.outputDim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const ids = tf.cast(tf.reshape(x, [-1]), 'int32');
      const out = lookup(this.table!.read(), ids) as tf.Tensor;
      return tf.reshape(out, [...x.shape, this.outputDim]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), inputDim: this.inputDim, outputDim: this.outputDim };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new cls(config as unknown as EmbeddingConfig);
  }
}

tf.serialization.registerClass(TextEmbedding);
