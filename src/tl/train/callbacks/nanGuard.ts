/**
 * Stops training when the numbers go bad, whatever the loss: a NaN or ±Infinity loss (per batch),
 * validation loss (per epoch), or weight. Weights are checked too because a loss can stay finite
 * while the weights are not: the last step of an epoch is taken after its loss was computed, and a
 * ReLU or a clipped cross-entropy hides NaN weights from the loss for a while.
 *
 * A training callback: it snapshots the weights at the start of every epoch, drops an epoch that
 * went bad (it leaves no point), and after the stop puts that epoch's snapshot back. Snapshots are
 * clones, which share memory with the weights until the optimizer assigns new values, so a snapshot
 * per epoch is cheap.
 */
import * as tf from '@tensorflow/tfjs';
import { printable } from '../../util/text';
import { compileWith, internals } from '../compile';
import { cloneOptimizer } from '../optimizers';
import type { BatchEnd, EpochEnd, TrainingCallback, TrainingState } from './callback';

export class NanGuard implements TrainingCallback {
  /** Why training stopped, once it has; e.g. "loss became NaN at epoch 2, batch 5". */
  reason?: string;
  private atStart?: tf.Tensor[];
  private epoch = 0;

  /** Snapshots and puts back all of `state.model`'s weights (frozen ones too); checks those of `state.trainModel` (what trains). */
  constructor(private readonly state: TrainingState) {}

  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
    this.release();
    this.atStart = this.state.model.getWeights().map((w) => tf.clone(w));
  }

  onBatchEnd({ batch, logs }: BatchEnd): void {
    const loss = logs.loss;
    if (this.reason === undefined && loss !== undefined && !Number.isFinite(loss)) {
      this.reason = `loss became ${loss} at epoch ${this.epoch + 1}, batch ${batch + 1}`;
    }
    if (this.reason !== undefined) this.state.stop();
  }

  onEpochEnd(end: EpochEnd): void {
    if (!this.wentBad(end.logs)) return;
    this.state.stop();
    end.keep = false;
  }

  /** `logs`: the epoch's metrics as numbers. */
  private wentBad(logs: Record<string, number>): boolean {
    if (this.reason !== undefined) return true;
    for (const k of ['loss', 'val_loss']) {
      const v = logs[k];
      if (v !== undefined && !Number.isFinite(v)) {
        this.reason = `${k} became ${v} at epoch ${this.epoch + 1}`;
        return true;
      }
    }
    const bad = firstNonFiniteWeight(this.state.trainModel.weights);
    if (bad) this.reason = `weight '${printable(bad)}' became NaN or Infinity in epoch ${this.epoch + 1} while the loss stayed finite`;
    return this.reason !== undefined;
  }

  /**
   * After a stop: puts back the weights from the start of the epoch that went bad, and a fresh
   * optimizer (at `learningRate`) when the old one's state went bad too. Says what it did.
   */
  async recover(learningRate: number | undefined): Promise<string> {
    const restored = this.restore();
    return `${this.reason}; ${restored}${(await resetOptimizer(this.state.model, learningRate)) ? ' and the optimizer starts afresh' : ''}`;
  }

  private restore(): string {
    if (!this.atStart) return 'the weights could not be restored';
    this.state.model.setWeights(this.atStart);
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
  return cloneOptimizer(opt, learningRate !== undefined ? { learningRate } : {});
}

/** Replaces an optimizer whose state went NaN with a fresh one (see freshOptimizerIfPoisoned). */
async function resetOptimizer(model: tf.LayersModel, learningRate: number | undefined): Promise<boolean> {
  const old = model.optimizer;
  const fresh = await freshOptimizerIfPoisoned(old, learningRate);
  if (!fresh) return false;
  const owned = internals(model).isOptimizerOwned === true;
  compileWith(model, fresh, true, model.loss, ['accuracy']);
  if (owned) old.dispose();
  return true;
}
