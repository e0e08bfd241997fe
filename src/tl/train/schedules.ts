/** Learning-rate schedules: the rate at each step of a run. */

/** A learning rate per step. `step` counts batches from 0 over the whole run. */
export type LRSchedule =
  | { type: 'step'; /** Epochs between drops. */ every: number; /** Factor per drop (default 0.1). */ gamma?: number }
  | { type: 'cosine'; /** Floor (default 0). */ minLr?: number; /** Linear warm-up epochs (default 0). */ warmupEpochs?: number }
  | { type: 'one-cycle'; /** Peak (default: the learning rate). */ maxLr?: number; /** Fraction of steps rising (default 0.3). */ pctStart?: number; divFactor?: number; finalDivFactor?: number }
  | ((info: { epoch: number; step: number; totalSteps: number; baseLr: number }) => number);

type Shaped<T extends string> = Extract<LRSchedule, { type: T }>;

function stepRate(s: Shaped<'step'>, baseLr: number, epoch: number): number {
  if (!(s.every > 0)) throw new Error('schedule step: `every` must be a positive number of epochs');
  return baseLr * Math.pow(s.gamma ?? 0.1, Math.floor(epoch / s.every));
}

function cosineRate(s: Shaped<'cosine'>, baseLr: number, step: number, stepsPerEpoch: number, totalSteps: number): number {
  const minLr = s.minLr ?? 0;
  const warm = Math.round((s.warmupEpochs ?? 0) * stepsPerEpoch);
  if (step < warm) return baseLr * ((step + 1) / warm);
  // The last step (totalSteps − 1) reaches the floor.
  const p = Math.min(1, (step - warm) / Math.max(1, totalSteps - 1 - warm));
  return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * p));
}

function oneCycleRate(s: Shaped<'one-cycle'>, baseLr: number, step: number, totalSteps: number): number {
  const maxLr = s.maxLr ?? baseLr;
  const start = maxLr / (s.divFactor ?? 25);
  const end = start / (s.finalDivFactor ?? 1e4);
  const up = Math.max(1, Math.round((s.pctStart ?? 0.3) * totalSteps));
  const cos = (a: number, b: number, p: number) => b + ((a - b) / 2) * (1 + Math.cos(Math.PI * Math.min(1, p)));
  return step < up ? cos(start, maxLr, step / up) : cos(maxLr, end, (step - up) / Math.max(1, totalSteps - 1 - up));
}

/** The scheduled rate at a step. Exported for tests and for plotting a schedule before training. */
export function scheduledLr(schedule: LRSchedule, baseLr: number, epoch: number, step: number, stepsPerEpoch: number, epochs: number): number {
  const totalSteps = Math.max(1, Math.round(stepsPerEpoch * epochs));
  if (typeof schedule === 'function') return schedule({ epoch, step, totalSteps, baseLr });
  switch (schedule.type) {
    case 'step':
      return stepRate(schedule, baseLr, epoch);
    case 'cosine':
      return cosineRate(schedule, baseLr, step, stepsPerEpoch, totalSteps);
    case 'one-cycle':
      return oneCycleRate(schedule, baseLr, step, totalSteps);
    default:
      throw new Error(`Unknown schedule ${JSON.stringify(schedule)}; use step, cosine, one-cycle or a function.`);
  }
}
