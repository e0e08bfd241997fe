/**
 * Makes every `model.fit` / `model.fitDataset` in a cell interruptible, including the user's own
 * calls: a callback yields to the event loop between batches (so the interrupt message can arrive)
 * and sets `stopTraining` when it does. The fit then ends after the current batch, the model keeps
 * its weights, and the call throws InterruptedError so the rest of the cell does not run.
 */
import * as tf from '@tensorflow/tfjs';
import { InterruptedError, isInterruptRequested } from '../tl/output';

let active = 0;
const idleWaiters: (() => void)[] = [];
/** Longest recent batch, so the host can wait that long for an interrupt before killing. */
let slowestBatchMs = 0;
let stateListener: ((active: number, batchMs: number) => void) | undefined;

/** Reports fits starting and ending, and batches that take longer than any before. */
export function onFitState(cb: (active: number, batchMs: number) => void): void {
  stateListener = cb;
}

export function activeFits(): number {
  return active;
}

/** Resolves when no fit is running. */
export function whenNoFit(): Promise<void> {
  return active === 0 ? Promise.resolve() : new Promise((r) => idleWaiters.push(r));
}

type AnyCallbacks = unknown;

function withInterruptCallback(model: tf.LayersModel, callbacks: AnyCallbacks): tf.CustomCallback[] | unknown[] {
  let last = Date.now();
  let batchStart = Date.now();
  const ours = new tf.CustomCallback({
    onBatchBegin: async () => {
      batchStart = Date.now();
    },
    onBatchEnd: async () => {
      const took = Date.now() - batchStart;
      if (took > slowestBatchMs * 1.2 + 50) {
        slowestBatchMs = took;
        stateListener?.(active, slowestBatchMs);
      }
      if (Date.now() - last > 50) {
        await new Promise((r) => setImmediate(r));
        last = Date.now();
      }
      if (isInterruptRequested()) model.stopTraining = true;
    },
    onEpochEnd: async () => {
      if (isInterruptRequested()) model.stopTraining = true;
    },
  });
  // tfjs treats an array as all-BaseCallback or all-plain-objects, so normalise to instances.
  const list = callbacks == null ? [] : Array.isArray(callbacks) ? callbacks : [callbacks];
  return [...list.map((c) => (typeof (c as { setParams?: unknown }).setParams === "function" ? c : new tf.CustomCallback(c as tf.CustomCallbackArgs))), ours];
}

let installed = false;
export function installFitPatch(): void {
  if (installed) return;
  installed = true;
  const proto = tf.LayersModel.prototype as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const method of ['fit', 'fitDataset'] as const) {
    const original = proto[method];
    proto[method] = async function (this: tf.LayersModel, ...args: unknown[]) {
      const argIndex = method === 'fit' ? 2 : 1;
      const opts = { ...((args[argIndex] as Record<string, unknown>) ?? {}) };
      opts.callbacks = withInterruptCallback(this, opts.callbacks);
      args[argIndex] = opts;
      if (isInterruptRequested()) throw new InterruptedError();
      active++;
      stateListener?.(active, slowestBatchMs);
      try {
        const history = await original.apply(this, args);
        if (isInterruptRequested()) throw new InterruptedError('Interrupted by the user: training stopped after the current batch; the model keeps the weights it had learned.');
        return history;
      } finally {
        active--;
        if (active === 0) {
          slowestBatchMs = 0;
          idleWaiters.splice(0).forEach((r) => r());
        }
        stateListener?.(active, slowestBatchMs);
      }
    };
  }
}
