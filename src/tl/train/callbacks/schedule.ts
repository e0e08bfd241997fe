/** Sets the learning rate before every batch from a schedule, and hands the optimizer its own rate back at the end. */
import type * as tf from '@tensorflow/tfjs';
import { setLearningRate } from '../optimizers';
import { scheduledLr, type LRSchedule } from '../schedules';
import type { TrainingCallback, TrainingState } from './callback';

export class Schedule implements TrainingCallback {
  /** The optimizer and rate before the fit: the next fit must start from this rate again. */
  private readonly optimizerBefore: tf.Optimizer;

  constructor(
    private readonly state: TrainingState,
    private readonly schedule: LRSchedule,
    private readonly baseLr: number,
  ) {
    this.optimizerBefore = state.model.optimizer;
  }

  onBatchBegin(epoch: number, batch: number): void {
    const { stepsPerEpoch, epochs, trainModel } = this.state;
    setLearningRate(trainModel.optimizer, scheduledLr(this.schedule, this.baseLr, epoch, epoch * stepsPerEpoch + batch, stepsPerEpoch, epochs));
  }

  release(): void {
    if (this.state.model.optimizer === this.optimizerBefore) setLearningRate(this.optimizerBefore, this.baseLr);
  }
}
