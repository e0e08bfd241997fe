/** Seeded randomness and the stratified train/validation split. */

/** mulberry32: small, fast, and good enough for shuffling and augmentation. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffleInPlace<T>(a: T[], rand: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * Holds out `fraction` of each class (at least one sample of every class with two or more, never all
 * of one), so that validation sees every class in proportion. Indices stay in sample order.
 */
export function stratifiedSplit(labels: readonly number[], numClasses: number, fraction: number, seed: number): { train: number[]; validation: number[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`validationSplit must be at least 0 and below 1, got ${fraction}`);
  const rand = seededRandom(seed);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  labels.forEach((l, i) => byClass[l].push(i));
  const val = new Set<number>();
  for (const idx of byClass) {
    if (fraction === 0 || idx.length === 0) continue;
    const n = idx.length;
    const nVal = Math.min(n - 1, Math.max(n >= 2 ? 1 : 0, Math.round(n * fraction)));
    for (const i of shuffleInPlace([...idx], rand).slice(0, nVal)) val.add(i);
  }
  const train: number[] = [];
  const validation: number[] = [];
  labels.forEach((_, i) => (val.has(i) ? validation : train).push(i));
  return { train, validation };
}

export function countByClass(labels: readonly number[], classes: readonly string[], indices?: readonly number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of classes) counts[c] = 0;
  for (const i of indices ?? labels.keys()) counts[classes[labels[i]]]++;
  return counts;
}
