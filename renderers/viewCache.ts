/**
 * The views this iframe draws, by output id. VS Code disposes an output before re-rendering it.
 * Replacing the training output each epoch would then rebuild the Chart each epoch; instead a
 * released view waits `graceMs` for a re-render of the same output id and is reused, and only then
 * destroyed.
 */
import { viewsByRoot, type View } from './view';

export const REUSE_GRACE_MS = 1000;

export interface ViewCacheHooks {
  /** A view leaves the cache, just before it is disposed. */
  onRemove(view: View): void;
  /** The last view was destroyed. */
  onEmpty(): void;
}

export class ViewCache {
  private readonly views = new Map<string, View>();
  private readonly disposals = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly hooks: ViewCacheHooks,
    private readonly graceMs = REUSE_GRACE_MS,
  ) {}

  /** The view drawn for output `id`, kept for reuse: a pending disposal is called off. */
  take(id: string): View | undefined {
    this.cancelDisposal(id);
    return this.views.get(id);
  }

  add(id: string, view: View): void {
    this.views.set(id, view);
    viewsByRoot.set(view.root, view);
  }

  values(): IterableIterator<View> {
    return this.views.values();
  }

  /** Output `id` (without: every output) was disposed: destroy its view unless it is re-rendered within the grace time. */
  release(id?: string): void {
    const ids = id === undefined ? [...this.views.keys()] : [id];
    for (const i of ids) {
      if (!this.views.has(i) || this.disposals.has(i)) continue;
      this.disposals.set(
        i,
        setTimeout(() => this.destroy(i), this.graceMs),
      );
    }
  }

  /** Disposes the view of output `id` now. */
  destroy(id: string): void {
    this.cancelDisposal(id);
    const v = this.views.get(id);
    if (!v) return;
    this.views.delete(id);
    this.hooks.onRemove(v);
    v.dispose();
    if (!this.views.size) this.hooks.onEmpty();
  }

  private cancelDisposal(id: string): void {
    const t = this.disposals.get(id);
    if (t !== undefined) clearTimeout(t);
    this.disposals.delete(id);
  }
}
