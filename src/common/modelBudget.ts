/**
 * The model loading budget as it travels from the host (the transferLab.maxModelSizeMB setting) to
 * the kernel process (an environment variable the tl core reads as its default). The CLI and any
 * other caller set the same variable.
 */

/** The environment variable the kernel process receives the budget in, in bytes. */
export const MAX_MODEL_BYTES_ENV = 'TRANSFER_LAB_MAX_MODEL_BYTES';

/** 2 GiB: more than any image backbone in the TF.js formats, well under V8's ArrayBuffer limit. */
export const DEFAULT_MAX_MODEL_MB = 2048;

/** The environment for a budget of `mb` MiB (a setting's value: anything but a positive number gives the default). */
export function modelBudgetEnv(mb: unknown): Record<string, string> {
  const n = typeof mb === 'number' && Number.isFinite(mb) && mb > 0 ? mb : DEFAULT_MAX_MODEL_MB;
  return { [MAX_MODEL_BYTES_ENV]: String(Math.max(1, Math.round(n * 1024 * 1024))) };
}
