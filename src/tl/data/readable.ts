/**
 * Samples that fail to load (images that do not decode) are left out of training, but never in
 * silence: fit names them in its output and result, and refuses to start when a class, or a whole
 * split, has nothing left to learn from.
 */
import type { Dataset, UnreadableSample } from './types';
import { printable } from '../util/text';

export interface UnreadableFile {
  /** Relative to the data folder. */
  file: string;
  split: 'train' | 'validation';
  reason: string;
}

function usableCounts(ds: Dataset, bad: readonly UnreadableSample[]): Record<string, number> {
  const counts = { ...ds.counts };
  for (const b of bad) counts[ds.classes[ds.labels[b.position]]]--;
  return counts;
}

function listed(bad: readonly UnreadableSample[], max = 3): string {
  const names = bad.slice(0, max).map((b) => printable(b.name));
  return `${names.join(', ')}${bad.length > max ? `, … (${bad.length} in all)` : ''}`;
}

/**
 * The unreadable samples of both splits, once they have been loaded (by the embedding pass or
 * checkReadable). Throws, naming the class and its files, when a class of the training split or a
 * whole split is left with no sample.
 */
export function usableOrThrow(train: Dataset, validation: Dataset | undefined, what: string): UnreadableFile[] {
  const out: UnreadableFile[] = [];
  for (const [split, ds] of [['train', train], ['validation', validation]] as const) {
    if (!ds) continue;
    const bad = ds.unreadable();
    if (bad.length === ds.size && ds.size > 0) {
      throw new Error(`${what}: none of the ${ds.size} ${split === 'train' ? 'training' : 'validation'} images could be decoded (${listed(bad)}: ${bad[0].reason}).`);
    }
    if (split === 'train') {
      const counts = usableCounts(ds, bad);
      const empty = ds.classes.filter((c) => ds.counts[c] > 0 && counts[c] <= 0);
      if (empty.length) {
        const inClass = bad.filter((b) => empty.includes(ds.classes[ds.labels[b.position]]));
        throw new Error(
          `${what}: class${empty.length > 1 ? 'es' : ''} ${empty.map((c) => `'${printable(c)}'`).join(', ')} ${empty.length > 1 ? 'have' : 'has'} no training image left: every one failed to decode (${listed(inClass)}: ${inClass[0].reason}).`,
        );
      }
    }
    for (const b of bad) out.push({ file: b.name, split, reason: b.reason });
  }
  return out;
}

/** One line for fit's output. */
export function describeUnreadable(files: readonly UnreadableFile[]): string {
  const shown = files.slice(0, 5).map((f) => `${printable(f.file)} (${f.split}: ${printable(f.reason)})`);
  return `${files.length} image(s) could not be decoded and were left out: ${shown.join(', ')}${files.length > 5 ? ', …' : ''}`;
}
