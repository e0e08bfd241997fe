/**
 * Makes every `model.fit` / `model.fitDataset` in a cell interruptible, including the user's own
 * calls, through the same interrupt guard tl.fit uses (tl/train/callbacks/interruptGuard.ts): it
 * yields to the event loop between batches (so the interrupt message can arrive) and sets
 * `stopTraining` when it does. The fit then ends after the current batch, the model keeps its
 * weights, and the call throws InterruptedError so the rest of the cell does not run. A fit started
 * by tl.fit carries its own guard: the patch adds none and does not throw, so tl.fit finishes its
 * own work first (it puts the best weights back) and throws itself.
 */
import * as tf from '@tensorflow/tfjs';
import { throwIfInterrupted } from '../tl/output';
import { hasInterruptGuard, InterruptGuard } from '../tl/train/callbacks/interruptGuard';

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

/** Times batches and reports one slower than any before. */
function batchTimer(): tf.CustomCallback {
  let batchStart = Date.now();
  return new tf.CustomCallback({
    onBatchBegin: async () => {
      batchStart = Date.now();
    },
    onBatchEnd: async () => {
      const took = Date.now() - batchStart;
      if (took > slowestBatchMs * 1.2 + 50) {
        slowestBatchMs = took;
        stateListener?.(active, slowestBatchMs);
      }
    },
  });
}

/**
 * The fit's callbacks with the kernel's added: the batch timer, and the interrupt guard unless the
 * fit has one already. tfjs treats an array as all-BaseCallback or all-plain-objects, so all are
 * made instances.
 */
function withKernelCallbacks(model: tf.LayersModel, callbacks: unknown): { callbacks: unknown[]; guard?: InterruptGuard } {
  const guard = hasInterruptGuard(callbacks) ? undefined : new InterruptGuard(() => (model.stopTraining = true));
  const list = callbacks == null ? [] : Array.isArray(callbacks) ? callbacks : [callbacks];
  const instances = list.map((c) => (typeof (c as { setParams?: unknown }).setParams === 'function' ? c : new tf.CustomCallback(c as tf.CustomCallbackArgs)));
  return { callbacks: [...instances, batchTimer(), ...(guard ? [guard.asTfCallback()] : [])], guard };
}

function fitStarted(): void {
  active++;
  stateListener?.(active, slowestBatchMs);
}

function fitEnded(): void {
  active--;
  if (active === 0) {
    slowestBatchMs = 0;
    idleWaiters.splice(0).forEach((r) => r());
  }
  stateListener?.(active, slowestBatchMs);
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
      throwIfInterrupted();
      const opts = { ...((args[argIndex] as Record<string, unknown>) ?? {}) };
      const { callbacks, guard } = withKernelCallbacks(this, opts.callbacks);
      opts.callbacks = callbacks;
      args[argIndex] = opts;
      fitStarted();
      try {
        const history = await original.apply(this, args);
        guard?.throwIfInterrupted('Interrupted by the user: training stopped after the current batch; the model keeps the weights it had learned.');
        return history;
      } finally {
        guard?.release();
        fitEnded();
      }
    };
  }
}
