/**
 * Stops training when the numbers go bad, whatever the loss: a NaN or ±Infinity loss (per batch),
 * validation loss (per epoch), or weight. Weights are checked too because a loss can stay finite
 * while the weights are not: the last step of an epoch is taken after its loss was computed, and a
 * ReLU or a clipped cross-entropy hides NaN weights from the loss for a while.
 *
 * Shaped as a training callback (epoch begin, batch end, epoch end): it snapshots the weights at the
 * start of every epoch, and after a stop puts that snapshot back. Snapshots are clones, which share
 * memory with the weights until the optimizer assigns new values, so a snapshot per epoch is cheap.
 */
import * as tf from '@tensorflow/tfjs';
import { printable } from './util/text';

export class NanGuard {
  /** Why training stopped, once it has; e.g. "loss became NaN at epoch 2, batch 5". */
  reason?: string;
  private atStart?: tf.Tensor[];
  private epoch = 0;

  /**
   * `model`: whose weights are snapshot and put back (all of them, frozen ones included).
   * `watched`: the weights whose values are checked at each epoch end (what trains).
   */
  constructor(
    private readonly model: tf.LayersModel,
    private readonly watched: () => readonly tf.LayerVariable[],
  ) {}

  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
    this.release();
    this.atStart = this.model.getWeights().map((w) => tf.clone(w));
  }

  /** True when training must stop. */
  onBatchEnd(batch: number, loss: number | undefined): boolean {
    if (this.reason === undefined && loss !== undefined && !Number.isFinite(loss)) {
      this.reason = `loss became ${loss} at epoch ${this.epoch + 1}, batch ${batch + 1}`;
    }
    return this.reason !== undefined;
  }

  /** True when training must stop. `logs`: the epoch's metrics as numbers. */
  onEpochEnd(logs: Record<string, number>): boolean {
    if (this.reason !== undefined) return true;
    for (const k of ['loss', 'val_loss']) {
      const v = logs[k];
      if (v !== undefined && !Number.isFinite(v)) {
        this.reason = `${k} became ${v} at epoch ${this.epoch + 1}`;
        return true;
      }
    }
    const bad = firstNonFiniteWeight(this.watched());
    if (bad) this.reason = `weight '${printable(bad)}' became NaN or Infinity in epoch ${this.epoch + 1} while the loss stayed finite`;
    return this.reason !== undefined;
  }

  /** Puts back the weights from the start of the epoch that went bad; says what it did. */
  restore(): string {
    if (!this.atStart) return 'the weights could not be restored';
    this.model.setWeights(this.atStart);
    return `the weights from the start of epoch ${this.epoch + 1} are restored`;
  }

  /** Releases the snapshot; call when training ends, however it ends. */
  release(): void {
    this.atStart?.forEach((t) => t.dispose());
    this.atStart = undefined;
  }
}

/** The name of the first weight holding NaN or ±Infinity, checked on the backend in one read. */
export function firstNonFiniteWeight(weights: readonly tf.LayerVariable[]): string | undefined {
  const floats = weights.filter((w) => w.dtype === 'float32');
  if (floats.length === 0) return undefined;
  const flags = tf.tidy(() => tf.stack(floats.map((w) => tf.all(tf.isFinite(w.read())))).dataSync());
  const i = flags.findIndex((f) => !f);
  return i < 0 ? undefined : floats[i].name;
}

/**
 * After a step with NaN gradients the optimizer's state (Adam's moments, momentum) holds NaN too, and
 * would poison the restored weights at the next step. Returns a fresh optimizer of the same kind and
 * settings when that is so (the caller compiles it in), else undefined.
 */
export async function freshOptimizerIfPoisoned(opt: tf.Optimizer, learningRate: number | undefined): Promise<tf.Optimizer | undefined> {
  let state: Awaited<ReturnType<tf.Optimizer['getWeights']>>;
  try {
    state = await opt.getWeights();
  } catch {
    return undefined; // an optimizer that cannot show its state
  }
  const poisoned = tf.tidy(() => state.some(({ tensor }) => tensor.dtype === 'float32' && !tf.all(tf.isFinite(tensor)).dataSync()[0]));
  // getWeights returns the slot variables themselves, plus a new scalar for the step count.
  for (const { tensor } of state) if (!(tensor instanceof tf.Variable)) tensor.dispose();
  if (!poisoned) return undefined;
  const config = { ...opt.getConfig(), ...(learningRate !== undefined ? { learningRate } : {}) };
  const cls = opt.constructor as unknown as { fromConfig: (c: unknown, cfg: tf.serialization.ConfigDict) => tf.Optimizer };
  return cls.fromConfig(cls, config);
}
