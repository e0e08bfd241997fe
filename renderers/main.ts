/**
 * Transfer Lab notebook renderer: training charts, layer freeze maps, confusion matrices, image galleries and the learning-rate finder's curve.
 * VS Code imports this ES module in the notebook's output iframe and calls `activate`.
 */
import { MIME } from '../src/common/mime';
import { ConfusionView } from './confusion/view';
import { GalleryView } from './gallery/view';
import type { OutputItem, RendererApi, RendererContext } from './context';
import { h } from './dom';
import { LayerMapView } from './layers/view';
import { LrFindView } from './lrfind/view';
import { ViewState } from './state';
import { ensureStyles } from './styles';
import { readTheme, onThemeChange, type Theme } from './theme';
import { RunRegistry } from './training/registry';
import { RunRouter } from './training/router';
import { TrainingView } from './training/view';
import type { View } from './view';
import { ViewCache } from './viewCache';

export { inspect, liveCharts } from './inspect';

/** The editor theme, read when the first view needs it and followed while any view is drawn. */
class ThemeWatch {
  private theme: Theme | undefined;
  private off: (() => void) | undefined;

  constructor(private readonly onChange: (t: Theme) => void) {}

  current(): Theme {
    if (!this.theme) {
      this.theme = readTheme();
      this.off = onThemeChange((t) => {
        this.theme = t;
        this.onChange(t);
      });
    }
    return this.theme;
  }

  /** Stops following the theme; the next current() reads it afresh. */
  release(): void {
    if (!this.off) return;
    this.off();
    this.off = undefined;
    this.theme = undefined;
  }
}

/** What the views of one iframe share. */
interface Shared {
  theme: ThemeWatch;
  registry: RunRegistry;
  state: ViewState;
  router: RunRouter;
}

function createView(item: OutputItem, data: unknown, s: Shared): View {
  switch (item.mime) {
    case MIME.training: {
      const v = new TrainingView(data, s.theme.current(), s.registry, s.state);
      s.router.attach(v);
      return v;
    }
    case MIME.layers:
      return new LayerMapView(data, s.state);
    case MIME.confusion:
      return new ConfusionView(data, s.theme.current(), s.state, item.id);
    case MIME.lrFind:
      return new LrFindView(data, s.theme.current());
    case MIME.gallery:
      return new GalleryView(data);
    default:
      throw new Error(`no view for MIME type ${item.mime}`);
  }
}

/** New data for a drawn view; a training view is routed again by its (possibly new) run id. */
function updateView(view: View, data: unknown, router: RunRouter): void {
  if (view instanceof TrainingView) router.detach(view);
  try {
    view.update(data);
  } finally {
    if (view instanceof TrainingView) router.attach(view);
  }
}

function showError(element: HTMLElement, e: unknown): void {
  const text = e instanceof Error ? e.message : String(e);
  element.replaceChildren(h('div', { class: 'tl-root tl-error', attrs: { role: 'alert' } }, `Transfer Lab could not draw this output: ${text}`));
}

export function activate(ctx: RendererContext): RendererApi {
  const router = new RunRouter();
  const cache: ViewCache = new ViewCache({
    onRemove: (v) => {
      if (v instanceof TrainingView) router.detach(v);
    },
    onEmpty: () => theme.release(),
  });
  const theme = new ThemeWatch((t) => {
    for (const v of cache.values()) v.applyTheme(t);
  });
  const shared: Shared = { theme, router, registry: new RunRegistry(), state: new ViewState(ctx as RendererContext<Record<string, Record<string, unknown>>>) };
  ctx.onDidReceiveMessage?.((raw) => router.route(raw));

  /** The view for `item`: the drawn one updated when the MIME type is the same, else a new one. */
  const show = (item: OutputItem): View => {
    let view = cache.take(item.id);
    const data = item.json();
    if (view && view.mime === item.mime) {
      updateView(view, data, router);
      return view;
    }
    if (view) cache.destroy(item.id);
    view = createView(item, data, shared);
    cache.add(item.id, view);
    return view;
  };

  return {
    renderOutputItem(item, element, signal) {
      if (signal?.aborted) return;
      ensureStyles(element.ownerDocument);
      try {
        const view = show(item);
        if (view.root.parentElement !== element) element.replaceChildren(view.root);
      } catch (e) {
        cache.destroy(item.id);
        showError(element, e);
      }
    },

    disposeOutputItem(id) {
      cache.release(id);
    },
  };
}
