/**
 * Transfer Lab notebook renderer: training charts, layer freeze maps and confusion matrices.
 * VS Code imports this ES module in the notebook's output iframe and calls `activate`.
 */
import { MIME } from '../src/common/mime';
import { ConfusionView } from './confusion/view';
import type { OutputItem, RendererApi, RendererContext } from './context';
import { h } from './dom';
import { LayerMapView } from './layers/view';
import { toTrainingMessage } from './shaping/validate';
import { ViewState } from './state';
import { ensureStyles } from './styles';
import { readTheme, onThemeChange, type Theme } from './theme';
import { RunRegistry } from './training/registry';
import { TrainingView } from './training/view';
import { viewsByRoot, type View } from './view';
import type { TrainingMessage } from '../src/common/shapes';

export { inspect, liveCharts } from './inspect';

/**
 * VS Code disposes an output before re-rendering it. Replacing the training output each epoch
 * would then rebuild the Chart each epoch; instead a disposed view waits this long for a
 * re-render of the same output id and is reused, and only then destroyed.
 */
const REUSE_GRACE_MS = 1000;
/** Messages for a run whose output is not drawn yet; the output's own state covers the rest. */
const MAX_PENDING = 5000;

export function activate(ctx: RendererContext): RendererApi {
  const views = new Map<string, View>();
  const byRun = new Map<string, Set<TrainingView>>();
  const disposals = new Map<string, ReturnType<typeof setTimeout>>();
  const pending = new Map<string, TrainingMessage[]>();
  let pendingCount = 0;
  const registry = new RunRegistry();
  const state = new ViewState(ctx as RendererContext<Record<string, Record<string, unknown>>>);
  let theme: Theme | undefined;
  let offTheme: (() => void) | undefined;

  const currentTheme = (): Theme => {
    if (!theme) {
      theme = readTheme();
      offTheme = onThemeChange((t) => {
        theme = t;
        for (const v of views.values()) v.applyTheme(t);
      });
    }
    return theme;
  };

  ctx.onDidReceiveMessage?.((raw) => {
    const msg = toTrainingMessage(raw);
    if (!msg) return;
    const targets = byRun.get(msg.runId);
    if (targets?.size) {
      for (const v of targets) v.onMessage(msg);
      return;
    }
    let list = pending.get(msg.runId);
    if (!list) pending.set(msg.runId, (list = []));
    list.push(msg);
    if (++pendingCount > MAX_PENDING) {
      const oldest = pending.keys().next().value as string;
      pendingCount -= pending.get(oldest)!.length;
      pending.delete(oldest);
    }
  });

  function index(view: TrainingView, add: boolean): void {
    const id = view.run.runId;
    let set = byRun.get(id);
    if (add) {
      if (!set) byRun.set(id, (set = new Set()));
      set.add(view);
      const queued = pending.get(id);
      if (queued) {
        pending.delete(id);
        pendingCount -= queued.length;
        for (const m of queued) view.onMessage(m);
      }
    } else if (set) {
      set.delete(view);
      if (!set.size) byRun.delete(id);
    }
  }

  function create(item: OutputItem, data: unknown): View {
    switch (item.mime) {
      case MIME.training: {
        const v = new TrainingView(data, currentTheme(), registry, state);
        index(v, true);
        return v;
      }
      case MIME.layers:
        return new LayerMapView(data, state);
      case MIME.confusion:
        return new ConfusionView(data, currentTheme(), state, item.id);
      default:
        throw new Error(`no view for MIME type ${item.mime}`);
    }
  }

  function destroy(id: string): void {
    const t = disposals.get(id);
    if (t !== undefined) clearTimeout(t);
    disposals.delete(id);
    const v = views.get(id);
    if (!v) return;
    views.delete(id);
    if (v instanceof TrainingView) index(v, false);
    v.dispose();
    if (!views.size && offTheme) {
      offTheme();
      offTheme = undefined;
      theme = undefined;
    }
  }

  function showError(element: HTMLElement, e: unknown): void {
    const text = e instanceof Error ? e.message : String(e);
    element.replaceChildren(h('div', { class: 'tl-root tl-error', attrs: { role: 'alert' } }, `Transfer Lab could not draw this output: ${text}`));
  }

  return {
    renderOutputItem(item, element, signal) {
      if (signal?.aborted) return;
      ensureStyles(element.ownerDocument);
      const t = disposals.get(item.id);
      if (t !== undefined) {
        clearTimeout(t);
        disposals.delete(item.id);
      }
      let view = views.get(item.id);
      try {
        const data = item.json();
        if (view && view.mime === item.mime) {
          if (view instanceof TrainingView) index(view, false);
          try {
            view.update(data);
          } finally {
            if (view instanceof TrainingView) index(view, true);
          }
        } else {
          if (view) destroy(item.id);
          view = create(item, data);
          views.set(item.id, view);
          viewsByRoot.set(view.root, view);
        }
        if (view.root.parentElement !== element) element.replaceChildren(view.root);
      } catch (e) {
        destroy(item.id);
        showError(element, e);
      }
    },

    disposeOutputItem(id) {
      const ids = id === undefined ? [...views.keys()] : [id];
      for (const i of ids) {
        if (!views.has(i) || disposals.has(i)) continue;
        disposals.set(i, setTimeout(() => destroy(i), REUSE_GRACE_MS));
      }
    },
  };
}
