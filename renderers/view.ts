import type { Theme } from './theme';

/** What main.ts keeps per output id. */
export interface View {
  readonly mime: string;
  readonly root: HTMLElement;
  /** The output item was replaced: same id, new data. Throws DataError on bad data. */
  update(data: unknown): void;
  applyTheme(theme: Theme): void;
  dispose(): void;
}

/** Root element → view, so tests (and nothing else) can inspect what an output element shows. */
export const viewsByRoot = new WeakMap<Element, View>();
