/** Records each kept epoch's point: the history fit() returns. */
import type { EpochEnd, TrainingCallback, TrainingState } from './callback';

export class History implements TrainingCallback {
  constructor(private readonly state: TrainingState) {}

  onEpochEnd(end: EpochEnd): void {
    if (end.keep) this.state.history.push(end.point);
  }
}
