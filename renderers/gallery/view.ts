/**
 * Pictures with captions: tl.topLosses' worst predictions and tl.explain's heatmap. Images are
 * inline PNGs (checked in validate.ts); every caption is text (textContent), never markup.
 */
import { MIME } from '../../src/common/mime';
import type { GalleryData, GalleryItem } from '../../src/common/shapes';
import { h } from '../dom';
import { toGallery } from '../shaping/validate';
import type { View } from '../view';

function figure(item: GalleryItem): HTMLLIElement {
  const caption = h('figcaption', {}, ...item.lines.map((l) => h('div', { text: l })));
  const fig = h('figure', { class: 'tl-gallery-fig' });
  if (item.image) fig.append(h('img', { attrs: { src: item.image, alt: item.alt, loading: 'lazy' } }));
  fig.append(caption);
  return h('li', { class: item.flag ? 'tl-gallery-item tl-flag' : 'tl-gallery-item', attrs: item.image ? {} : { title: item.alt } }, fig);
}

export class GalleryView implements View {
  readonly mime = MIME.gallery;
  readonly root: HTMLElement;
  private data!: GalleryData;

  constructor(data: unknown) {
    this.root = h('section', { class: 'tl-root tl-gallery' });
    this.update(data);
  }

  update(data: unknown): void {
    this.data = toGallery(data);
    const d = this.data;
    this.root.setAttribute('aria-label', d.title);
    const head: HTMLElement[] = [h('h3', { class: 'tl-title', text: d.title })];
    if (d.subtitle) head.push(h('p', { class: 'tl-meta', text: d.subtitle }));
    this.root.replaceChildren(...head, h('ul', { class: 'tl-gallery-grid' }, ...d.items.map(figure)));
  }

  applyTheme(): void {
    // Colours come from CSS variables; the pictures do not change with the theme.
  }

  dispose(): void {
    this.root.remove();
  }
}
