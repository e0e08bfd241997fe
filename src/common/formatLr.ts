/** Learning rates in text, the same in the kernel's text outputs and in the renderer's charts. */

/** A learning rate as people write it: 3e-4, 1.2e-3, 0.5. */
export function formatLr(lr: number): string {
  if (!Number.isFinite(lr)) return String(lr);
  if (lr >= 0.1 && lr < 1000) return String(Number(lr.toPrecision(2)));
  const [m, e] = lr.toExponential(1).split('e');
  return `${m.replace(/\.0$/, '')}e${Number(e)}`;
}
