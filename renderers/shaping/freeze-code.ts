/**
 * "Copy freeze code": the tl.freeze / tl.unfreeze calls for a selected range of the layer map.
 * Uses only the spec forms whose meaning is unambiguous: 'all', a name, and { from, to }
 * (inclusive). Names go through JSON.stringify, which yields a valid JS string literal for any
 * name, so a hostile name stays a string.
 */
import type { LayerInfo } from '../../src/common/shapes';

export type FreezeAction = 'reproduce' | 'freeze' | 'unfreeze';

export interface FreezeCodeOptions {
  /** The variable holding the model in the notebook. */
  model?: string;
  action?: FreezeAction;
}

const IDENT = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

export function isModelExpression(s: string): boolean {
  return IDENT.test(s);
}

type Ref = string | number;

function refOf(layers: readonly LayerInfo[], pos: number, unique: boolean): Ref {
  return unique ? layers[pos].name : layers[pos].index;
}

function lit(r: Ref): string {
  return typeof r === 'number' ? String(r) : JSON.stringify(r);
}

function spec(layers: readonly LayerInfo[], a: number, b: number, unique: boolean): string {
  if (a === b && unique) return lit(layers[a].name);
  return `{ from: ${lit(refOf(layers, a, unique))}, to: ${lit(refOf(layers, b, unique))} }`;
}

/**
 * `layers` in model order; `start`..`end` are positions in it, inclusive, in either order.
 * "reproduce" writes the calls that give the selection its current frozen/trainable pattern.
 */
export function freezeCode(layers: readonly LayerInfo[], start: number, end: number, opts: FreezeCodeOptions = {}): string {
  if (!layers.length) throw new Error('The model has no layers to freeze.');
  const model = opts.model && isModelExpression(opts.model) ? opts.model : 'model';
  const action = opts.action ?? 'reproduce';
  const a = Math.max(0, Math.min(start, end));
  const b = Math.min(layers.length - 1, Math.max(start, end));
  // Keras names are unique per model, but data from elsewhere may not be: then use indices.
  const unique = new Set(layers.map((l) => l.name)).size === layers.length;
  const whole = a === 0 && b === layers.length - 1;
  const call = (trainable: boolean, s: string) => `tl.${trainable ? 'unfreeze' : 'freeze'}(${model}, ${s});`;

  if (action !== 'reproduce') {
    const trainable = action === 'unfreeze';
    return call(trainable, whole ? "'all'" : spec(layers, a, b, unique));
  }

  const runs: { from: number; to: number; trainable: boolean }[] = [];
  for (let i = a; i <= b; i++) {
    const t = layers[i].trainable;
    const last = runs[runs.length - 1];
    if (last && last.trainable === t) last.to = i;
    else runs.push({ from: i, to: i, trainable: t });
  }
  const lines: string[] = [];
  if (whole) {
    // Start from 'all' in the majority state, then the exceptions: shortest code for the usual
    // "frozen base, trainable head" pattern.
    const trainableCount = runs.filter((r) => r.trainable).reduce((n, r) => n + r.to - r.from + 1, 0);
    const base = trainableCount * 2 > layers.length;
    lines.push(call(base, "'all'"));
    for (const r of runs) if (r.trainable !== base) lines.push(call(r.trainable, spec(layers, r.from, r.to, unique)));
  } else {
    for (const r of runs) lines.push(call(r.trainable, spec(layers, r.from, r.to, unique)));
  }
  return lines.join('\n');
}
