/** Saves the model to a folder whenever the monitored metric improves. */
import { save } from '../../export';
import { outputUnits } from '../compile';
import type { EpochEnd, TrainingCallback, TrainingState } from './callback';
import type { Monitor } from './monitor';

export class Checkpoint implements TrainingCallback {
  constructor(
    private readonly state: TrainingState,
    private readonly monitor: Monitor,
    private readonly dir: string,
    private readonly classes: readonly string[],
  ) {}

  async onEpochEnd(end: EpochEnd): Promise<void> {
    if (!end.keep || !this.monitor.improved || !this.monitor.best) return;
    const { model } = this.state;
    // Class names go with the checkpoint when they name the outputs (not for one sigmoid unit).
    const named = outputUnits(model) === this.classes.length ? { classes: [...this.classes] } : {};
    const { epoch, value } = this.monitor.best;
    await save(model, this.dir, named, { extra: { checkpoint: { epoch, monitor: this.monitor.name, value } } });
  }
}
