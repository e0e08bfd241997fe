/**
 * How much a model may make the loader allocate. The budget is a plain option: the host passes the
 * `transferLab.maxModelSizeMB` setting into the kernel as TRANSFER_LAB_MAX_MODEL_BYTES, the CLI
 * reads the same variable, and `tl.load(src, { maxBytes })` overrides both for one call.
 */

import { terminalJson } from '../../../common/terminal';
import { DEFAULT_MAX_MODEL_MB, MAX_MODEL_BYTES_ENV } from '../../../common/modelBudget';

export const DEFAULT_MAX_MODEL_BYTES = DEFAULT_MAX_MODEL_MB * 1024 * 1024;

/** The loading budget in bytes: the option, else the environment, else the default. */
export function maxModelBytes(option?: number): number {
  if (option !== undefined) {
    if (typeof option !== 'number' || !Number.isSafeInteger(option) || option <= 0) {
      throw new Error(`tl.load(): maxBytes must be a positive whole number of bytes, got ${String(option)}.`);
    }
    return option;
  }
  const env = process.env[MAX_MODEL_BYTES_ENV];
  const n = env === undefined || env.trim() === '' ? NaN : Number(env);
  return Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_MAX_MODEL_BYTES;
}

/** 1536 → "1.5 KiB": sizes in errors a person can read. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return `${n} bytes`;
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/** How an error tells the user to raise the budget. */
export function budgetHint(max: number): string {
  return `the loading budget is ${formatBytes(max)} (raise it with tl.load(source, { maxBytes }) or the transferLab.maxModelSizeMB setting)`;
}

/** Text from a model file as it may appear in an error: quoted, escaped (terminal controls too), and short. */
export function quote(s: unknown, max = 120): string {
  const text = typeof s === 'string' ? s : String(s);
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return terminalJson(cut);
}
