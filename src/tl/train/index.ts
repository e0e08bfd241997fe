/** Training: fit (a loop plus callbacks), fineTune, optimizers and learning-rate schedules. */
export { fit } from './fit';
export { lrFind, type LrFindOptions, type LrFindResult } from './lrFind';
export { fineTune, type FineTuneOptions, type FineTuneResult } from './fineTune';
export { makeOptimizer, setLearningRate, getLearningRate, type OptimizerName } from './optimizers';
export { scheduledLr, type LRSchedule } from './schedules';
export { formatHistoryTable } from './format';
export type { FitOptions, FitResult, EarlyStoppingOptions, CheckpointOptions } from './options';
