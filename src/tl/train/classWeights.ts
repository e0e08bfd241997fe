/** Class weights for fit(): by name, by index, or 'balanced'. */
import type { Dataset } from '../data';
import { printable } from '../util/text';
import type { FitOptions } from './options';

/** 'balanced': n / (classes × count) per class, as Keras and scikit-learn compute it. */
function balanced(data: Dataset): Record<number, number> {
  const out: Record<number, number> = {};
  const n = data.size;
  data.classes.forEach((c, i) => {
    const count = data.counts[c] ?? 0;
    out[i] = count > 0 ? n / (data.classes.length * count) : 1;
  });
  return out;
}

export function classWeights(spec: FitOptions['classWeight'], data: Dataset): Record<number, number> | undefined {
  if (spec === undefined) return undefined;
  if (spec === 'balanced') return balanced(data);
  const classes = data.classes;
  const out: Record<number, number> = {};
  classes.forEach((_, i) => (out[i] = 1));
  if (Array.isArray(spec) && spec.length !== classes.length) throw new Error(`classWeight: ${spec.length} weights for ${classes.length} classes (${classes.map(printable).join(', ')}).`);
  // A list is by class index; an object by class name (or index, for classes without names).
  const entries = Array.isArray(spec) ? spec.map((w, i) => [i, w] as const) : Object.entries(spec);
  for (const [k, w] of entries) {
    const byName = typeof k === 'number' ? k : classes.indexOf(k);
    const idx = byName >= 0 ? byName : /^\d+$/.test(String(k)) && Number(k) < classes.length ? Number(k) : -1;
    if (idx < 0) throw new Error(`classWeight: '${printable(String(k))}' is not a class (${classes.map(printable).join(', ')}).`);
    if (!(typeof w === 'number' && Number.isFinite(w) && w >= 0)) throw new Error(`classWeight for '${printable(String(k))}' must be a number ≥ 0, got ${printable(String(w))}.`);
    out[idx] = w;
  }
  return out;
}
