/**
 * View settings (smoothing, toggles) kept in the renderer's webview state, keyed by run or output,
 * so they survive the webview being rebuilt while the notebook stays open.
 */
import type { RendererContext } from './context';

type Stored = Record<string, Record<string, unknown>>;

const MAX_ENTRIES = 200;

export class ViewState {
  constructor(private readonly ctx: Pick<RendererContext<Stored>, 'getState' | 'setState'>) {}

  get<T extends object>(key: string, defaults: T): T {
    let stored: unknown;
    try {
      stored = this.ctx.getState()?.[key];
    } catch {
      stored = undefined;
    }
    const out = { ...defaults };
    if (stored && typeof stored === 'object') {
      for (const k of Object.keys(defaults) as (keyof T)[]) {
        const v = (stored as Record<string, unknown>)[k as string];
        if (typeof v === typeof defaults[k]) out[k] = v as T[keyof T];
      }
    }
    return out;
  }

  set(key: string, value: object): void {
    try {
      const all: Stored = { ...(this.ctx.getState() ?? {}) };
      delete all[key];
      all[key] = { ...value };
      const keys = Object.keys(all);
      for (const k of keys.slice(0, Math.max(0, keys.length - MAX_ENTRIES))) delete all[k];
      this.ctx.setState(all);
    } catch {
      // State is a convenience; a host without it must not break drawing.
    }
  }
}
