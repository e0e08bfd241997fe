/**
 * Pooling a sentence encoder's token vectors into one vector a text, over the real tokens only (the
 * attention mask), as sentence-transformers' Pooling module does: 'mean' (its default), 'max',
 * 'cls' (the first token), or 'mean+max' side by side. Plain loops over ONNX Runtime's output: no
 * tensors to dispose.
 */
import type { EncoderPooling } from './types';

export const ENCODER_POOLINGS: readonly EncoderPooling[] = ['mean', 'max', 'cls', 'mean+max', 'model'];

/** Numbers a text gets for `hidden` numbers a token. */
export function pooledDim(mode: EncoderPooling, hidden: number): number {
  return mode === 'mean+max' ? 2 * hidden : hidden;
}

/**
 * `states` is [batch, length, hidden] row-major, `mask` [batch, length] (1 for a real token). A text
 * without real tokens gives zeros.
 */
export function poolTokens(states: Float32Array, mask: BigInt64Array, batch: number, length: number, hidden: number, mode: Exclude<EncoderPooling, 'model'>): Float32Array {
  const dim = pooledDim(mode, hidden);
  const out = new Float32Array(batch * dim);
  for (let b = 0; b < batch; b++) {
    const row = out.subarray(b * dim, (b + 1) * dim);
    if (mode === 'cls') {
      row.set(states.subarray(b * length * hidden, (b * length + 1) * hidden));
      continue;
    }
    const maxAt = mode === 'max' ? 0 : mode === 'mean+max' ? hidden : -1;
    if (maxAt >= 0) row.fill(-Infinity, maxAt, maxAt + hidden);
    let count = 0;
    for (let t = 0; t < length; t++) {
      if (mask[b * length + t] === 0n) continue;
      count++;
      const v = states.subarray((b * length + t) * hidden, (b * length + t + 1) * hidden);
      for (let k = 0; k < hidden; k++) {
        if (mode !== 'max') row[k] += v[k];
        if (maxAt >= 0 && v[k] > row[maxAt + k]) row[maxAt + k] = v[k];
      }
    }
    if (count === 0) {
      row.fill(0);
      continue;
    }
    if (mode !== 'max') for (let k = 0; k < hidden; k++) row[k] /= count;
  }
  return out;
}
