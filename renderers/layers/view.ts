/**
 * The layer freeze map: every layer in order as a cell, frozen cells hatched with a dashed border,
 * trainable ones solid; long models in collapsible blocks. Selecting a range gives the
 * tl.freeze / tl.unfreeze code that reproduces it.
 */
import { MIME } from '../../src/common/mime';
import type { LayerInfo, LayerMap } from '../../src/common/shapes';
import { h, setText, uid } from '../dom';
import { formatInt } from '../shaping/format';
import { freezeCode, isModelExpression, type FreezeAction } from '../shaping/freeze-code';
import { countLayers, groupLayers, shouldGroup, type LayerGroup } from '../shaping/layers';
import { toLayerMap } from '../shaping/validate';
import type { ViewState } from '../state';
import type { View } from '../view';
import { cutText, detailRows, layerAriaLabel } from './text';

interface Ui {
  model: string;
  action: FreezeAction;
}

export class LayerMapView implements View {
  readonly mime = MIME.layers;
  readonly root: HTMLElement;
  /** Milliseconds the last full build took. */
  lastBuildMs = 0;

  private data!: LayerMap;
  private groups: LayerGroup[] = [];
  private cells: HTMLButtonElement[] = [];
  private groupEls: { el: HTMLElement; head: HTMLButtonElement; strip: HTMLElement; note: HTMLElement }[] = [];
  private readonly expanded = new Set<number>();
  private focusPos = 0;
  private anchor = -1;
  private sel: [number, number] | undefined;
  private ui: Ui;

  private readonly headerEl = h('div', { class: 'tl-layers-head' });
  private readonly mapEl: HTMLElement;
  private readonly detailsEl = h('aside', { class: 'tl-details', attrs: { 'aria-label': 'Layer details' } });
  private readonly selText = h('p', { class: 'tl-sel-text' });
  private readonly codeEl = h('pre', { class: 'tl-code' });
  private readonly copyStatus = h('span', { class: 'tl-copy-status', attrs: { role: 'status' } });
  private readonly modelInput: HTMLInputElement;
  private readonly actionSelect: HTMLSelectElement;
  private readonly copyButton: HTMLButtonElement;
  private readonly toolbar = h('div', { class: 'tl-controls' });

  constructor(data: unknown, private readonly state: ViewState) {
    const mapLabel = uid('maplabel');
    this.mapEl = h('div', { class: 'tl-map', attrs: { role: 'group', 'aria-labelledby': mapLabel } });
    this.mapEl.append(h('span', { class: 'tl-sr', attrs: { id: mapLabel }, text: 'Layers in order' }));
    this.ui = state.get('layers', { model: 'model', action: 'reproduce' as FreezeAction });
    const modelId = uid('model');
    const actionId = uid('action');
    this.modelInput = h('input', { class: 'tl-input', attrs: { id: modelId, type: 'text', spellcheck: 'false', size: '10' } });
    this.modelInput.value = this.ui.model;
    this.actionSelect = h(
      'select',
      { class: 'tl-input', attrs: { id: actionId } },
      h('option', { attrs: { value: 'reproduce' }, text: 'as shown' }),
      h('option', { attrs: { value: 'freeze' }, text: 'freeze selection' }),
      h('option', { attrs: { value: 'unfreeze' }, text: 'unfreeze selection' }),
    );
    this.actionSelect.value = this.ui.action;
    this.copyButton = h('button', { attrs: { type: 'button' }, text: 'Copy freeze code' });

    const selection = h(
      'div',
      { class: 'tl-selection' },
      this.selText,
      h(
        'div',
        { class: 'tl-controls' },
        h('label', { attrs: { for: modelId }, text: 'Model variable' }),
        this.modelInput,
        h('label', { attrs: { for: actionId }, text: 'Code for' }),
        this.actionSelect,
        this.copyButton,
        this.copyStatus,
      ),
      this.codeEl,
    );
    this.root = h(
      'section',
      { class: 'tl-root tl-layers', attrs: { 'aria-label': 'Layer freeze map' } },
      this.headerEl,
      legend(),
      this.toolbar,
      h('div', { class: 'tl-layer-body' }, h('div', { class: 'tl-map-col' }, this.mapEl, selection), this.detailsEl),
    );

    this.mapEl.addEventListener('click', (e) => this.onClick(e));
    this.mapEl.addEventListener('keydown', (e) => this.onKey(e));
    this.mapEl.addEventListener('mouseover', (e) => this.onHover(e));
    this.mapEl.addEventListener('focusin', (e) => this.onHover(e));
    this.modelInput.addEventListener('input', () => {
      const v = this.modelInput.value.trim();
      this.modelInput.setAttribute('aria-invalid', String(v !== '' && !isModelExpression(v)));
      if (isModelExpression(v)) this.setUi({ model: v });
    });
    this.actionSelect.addEventListener('change', () => this.setUi({ action: this.actionSelect.value as FreezeAction }));
    this.copyButton.addEventListener('click', () => void this.copy());

    this.update(data);
  }

  update(data: unknown): void {
    const t0 = performance.now();
    const next = toLayerMap(data);
    const keep = this.data && this.data.layers.length === next.layers.length;
    this.data = next;
    if (!keep) {
      this.sel = undefined;
      this.anchor = -1;
      this.focusPos = 0;
      this.expanded.clear();
    }
    this.build();
    this.lastBuildMs = performance.now() - t0;
  }

  applyTheme(): void {
    // Drawn with CSS variables only; the theme change restyles it without code.
  }

  dispose(): void {
    this.root.remove();
  }

  get layers(): readonly LayerInfo[] {
    return this.data.layers;
  }

  /** The code for the current selection, or '' when nothing is selected. */
  get code(): string {
    if (!this.sel) return '';
    return freezeCode(this.data.layers, this.sel[0], this.sel[1], { model: this.ui.model, action: this.ui.action });
  }

  /** Selects positions a..b (inclusive), as a shift-click would. */
  select(a: number, b: number): void {
    this.anchor = a;
    this.setSelection(a, b);
  }

  // --- building

  private build(): void {
    const { layers, totals, modelName } = this.data;
    const counts = countLayers(layers);
    this.headerEl.replaceChildren(
      h('h3', { class: 'tl-title', text: modelName }),
      h('p', { class: 'tl-totals' }, `Total params ${formatInt(totals.total)} · trainable ${formatInt(totals.trainable)} · non-trainable ${formatInt(totals.nonTrainable)}`),
      h(
        'p',
        { class: 'tl-meta' },
        `${counts.layers} layers: ${counts.frozen} frozen, ${counts.trainable} trainable` +
          (counts.bnInference ? ` · ${counts.bnInference} BatchNormalization in inference mode` : ''),
      ),
    );
    // A text model's tokenizer comes before layer 0: said in words (as text, never HTML).
    if (this.data.input) this.headerEl.append(h('p', { class: 'tl-input-note', text: this.data.input }));
    const cut = cutText(this.data);
    if (cut) this.headerEl.append(h('p', { class: 'tl-cut-note', text: cut }));
    this.cells = layers.map((l, pos) => this.makeCell(l, pos));
    this.groupEls = [];
    const mapLabel = this.mapEl.firstElementChild!;
    if (shouldGroup(layers)) {
      this.groups = groupLayers(layers);
      const frag = document.createDocumentFragment();
      this.groups.forEach((g, gi) => frag.append(this.makeGroup(g, gi)));
      this.mapEl.replaceChildren(mapLabel, frag);
      this.mapEl.classList.add('tl-grouped');
      const expandAll = h('button', { attrs: { type: 'button' }, text: 'Expand all' });
      const collapseAll = h('button', { attrs: { type: 'button' }, text: 'Collapse all' });
      expandAll.addEventListener('click', () => this.setExpandedAll(true));
      collapseAll.addEventListener('click', () => this.setExpandedAll(false));
      this.toolbar.replaceChildren(h('span', { text: `${this.groups.length} blocks` }), expandAll, collapseAll, this.clearButton());
    } else {
      this.groups = [];
      const strip = h('div', { class: 'tl-strip' });
      strip.append(...this.cells);
      this.mapEl.replaceChildren(mapLabel, strip);
      this.mapEl.classList.remove('tl-grouped');
      this.toolbar.replaceChildren(this.clearButton());
    }
    this.focusPos = Math.min(this.focusPos, Math.max(0, layers.length - 1));
    if (this.cells.length) this.cells[this.focusPos].tabIndex = 0;
    this.showDetails(undefined);
    if (this.sel) this.setSelection(this.sel[0], this.sel[1]);
    else this.renderSelection();
  }

  private clearButton(): HTMLButtonElement {
    const b = h('button', { attrs: { type: 'button' }, text: 'Clear selection' });
    b.addEventListener('click', () => this.clearSelection());
    return b;
  }

  private makeCell(l: LayerInfo, pos: number): HTMLButtonElement {
    const cut = this.data.cut?.index === l.index ? ' tl-cut' : '';
    const cls = `tl-cell ${l.trainable ? 'tl-trainable' : 'tl-frozen'}${l.bnInference ? ' tl-bn' : ''}${l.unused ? ' tl-unused' : ''}${cut}`;
    return h('button', {
      class: cls,
      attrs: { type: 'button', tabindex: '-1', 'data-pos': String(pos), 'aria-pressed': 'false', 'aria-label': layerAriaLabel(l, cut !== '') },
    });
  }

  private makeGroup(g: LayerGroup, gi: number): HTMLElement {
    const stripId = uid('block');
    const open = this.expanded.has(gi);
    const head = h(
      'button',
      { class: 'tl-group-head', attrs: { type: 'button', 'aria-expanded': String(open), 'aria-controls': stripId, 'data-group': String(gi) } },
      h('span', { class: 'tl-chevron', attrs: { 'aria-hidden': 'true' }, text: open ? '▾' : '▸' }),
      h('span', { class: 'tl-group-name', text: g.label, attrs: { title: g.label } }),
    );
    const bar = h('span', { class: 'tl-group-bar', attrs: { 'aria-hidden': 'true' } });
    if (g.frozen) bar.append(grow(h('span', { class: 'tl-bar-frozen' }), g.frozen));
    if (g.trainable) bar.append(grow(h('span', { class: 'tl-bar-trainable' }), g.trainable));
    const summary = `${g.count} layer${g.count === 1 ? '' : 's'} · ${g.state === 'mixed' ? `${g.frozen} frozen, ${g.trainable} trainable` : g.state} · ${formatInt(g.trainableParams + g.nonTrainableParams)} params`;
    const note = h('span', { class: 'tl-group-note' });
    const selectBtn = h('button', { class: 'tl-small', attrs: { type: 'button', 'data-select-group': String(gi) }, text: 'Select' });
    selectBtn.setAttribute('aria-label', `Select block ${g.label}`);
    const strip = h('div', { class: 'tl-strip', attrs: { id: stripId } });
    strip.hidden = !open;
    for (let p = g.start; p <= g.end; p++) strip.append(this.cells[p]);
    const el = h(
      'div',
      { class: `tl-group tl-group-${g.state}` },
      h('div', { class: 'tl-group-row' }, head, bar, h('span', { class: 'tl-group-summary', text: summary }), note, selectBtn),
      strip,
    );
    this.groupEls.push({ el, head, strip, note });
    return el;
  }

  // --- interaction

  private posOf(target: EventTarget | null): number | undefined {
    const el = (target as Element | null)?.closest?.('.tl-cell') as HTMLElement | null;
    if (!el || !this.mapEl.contains(el)) return undefined;
    const p = Number(el.dataset.pos);
    return Number.isInteger(p) ? p : undefined;
  }

  private onHover(e: Event): void {
    const p = this.posOf(e.target);
    if (p !== undefined) this.showDetails(p);
  }

  private onClick(e: MouseEvent): void {
    const t = e.target as Element;
    const head = t.closest('.tl-group-head') as HTMLElement | null;
    if (head) return this.toggleGroup(Number(head.dataset.group));
    const sg = t.closest('[data-select-group]') as HTMLElement | null;
    if (sg) {
      const g = this.groups[Number(sg.dataset.selectGroup)];
      if (g) this.select(g.start, g.end);
      return;
    }
    const p = this.posOf(t);
    if (p === undefined) return;
    this.moveFocus(p, false);
    if (e.shiftKey && this.anchor >= 0) this.setSelection(this.anchor, p);
    else this.select(p, p);
  }

  private onKey(e: KeyboardEvent): void {
    const p = this.posOf(e.target);
    if (p === undefined) return;
    const visible = this.visiblePositions();
    const i = visible.indexOf(p);
    let next: number | undefined;
    switch (e.key) {
      case 'ArrowRight':
      case 'ArrowDown':
        next = visible[Math.min(visible.length - 1, i + 1)];
        break;
      case 'ArrowLeft':
      case 'ArrowUp':
        next = visible[Math.max(0, i - 1)];
        break;
      case 'Home':
        next = visible[0];
        break;
      case 'End':
        next = visible[visible.length - 1];
        break;
      case 'Escape':
        this.clearSelection();
        e.preventDefault();
        return;
      default:
        return;
    }
    e.preventDefault();
    if (next === undefined) return;
    this.moveFocus(next, true);
    if (e.shiftKey) {
      if (this.anchor < 0) this.anchor = p;
      this.setSelection(this.anchor, next);
    }
  }

  private visiblePositions(): number[] {
    if (!this.groups.length) return this.cells.map((_, i) => i);
    const out: number[] = [];
    this.groups.forEach((g, gi) => {
      if (this.expanded.has(gi)) for (let p = g.start; p <= g.end; p++) out.push(p);
    });
    return out;
  }

  private moveFocus(p: number, focus: boolean): void {
    this.cells[this.focusPos]?.setAttribute('tabindex', '-1');
    this.focusPos = p;
    const c = this.cells[p];
    c.tabIndex = 0;
    if (focus) c.focus();
  }

  private toggleGroup(gi: number, open = !this.expanded.has(gi)): void {
    const g = this.groupEls[gi];
    if (!g) return;
    if (open) this.expanded.add(gi);
    else this.expanded.delete(gi);
    g.head.setAttribute('aria-expanded', String(open));
    g.head.querySelector('.tl-chevron')!.textContent = open ? '▾' : '▸';
    g.strip.hidden = !open;
    // Keep the roving tab stop on a cell that can be reached.
    if (open && !this.isVisible(this.focusPos)) this.moveFocus(this.groups[gi].start, false);
  }

  private isVisible(p: number): boolean {
    if (!this.groups.length) return true;
    const gi = this.groups.findIndex((g) => p >= g.start && p <= g.end);
    return this.expanded.has(gi);
  }

  private setExpandedAll(open: boolean): void {
    this.groups.forEach((_, gi) => this.toggleGroup(gi, open));
  }

  private setSelection(a: number, b: number): void {
    const lo = Math.max(0, Math.min(a, b));
    const hi = Math.min(this.cells.length - 1, Math.max(a, b));
    const prev = this.sel;
    if (prev) for (let p = prev[0]; p <= prev[1]; p++) this.mark(p, false);
    this.sel = [lo, hi];
    for (let p = lo; p <= hi; p++) this.mark(p, true);
    this.renderSelection();
  }

  private clearSelection(): void {
    if (this.sel) for (let p = this.sel[0]; p <= this.sel[1]; p++) this.mark(p, false);
    this.sel = undefined;
    this.anchor = -1;
    this.renderSelection();
  }

  private mark(p: number, on: boolean): void {
    const c = this.cells[p];
    if (!c) return;
    c.classList.toggle('tl-selected', on);
    c.setAttribute('aria-pressed', String(on));
  }

  private renderSelection(): void {
    this.groups.forEach((g, gi) => {
      const n = this.sel ? Math.max(0, Math.min(g.end, this.sel[1]) - Math.max(g.start, this.sel[0]) + 1) : 0;
      const ge = this.groupEls[gi];
      ge.el.classList.toggle('tl-group-selected', n > 0);
      setText(ge.note, n ? `${n} selected` : '');
    });
    setText(this.copyStatus, '');
    if (!this.sel) {
      setText(this.selText, 'Select layers: click one, then shift-click another (or use Shift+arrow keys) to select a range.');
      this.codeEl.hidden = true;
      this.copyButton.disabled = true;
      return;
    }
    const [a, b] = this.sel;
    const L = this.data.layers;
    const n = b - a + 1;
    let frozen = 0;
    for (let p = a; p <= b; p++) if (!L[p].trainable) frozen++;
    const range = n === 1 ? `layer ${L[a].index} ${L[a].name}` : `${n} layers, ${L[a].index} ${L[a].name} to ${L[b].index} ${L[b].name}`;
    setText(this.selText, `Selected ${range} (${frozen} frozen, ${n - frozen} trainable).`);
    this.codeEl.hidden = false;
    setText(this.codeEl, this.code);
    this.copyButton.disabled = false;
  }

  private setUi(patch: Partial<Ui>): void {
    this.ui = { ...this.ui, ...patch };
    this.state.set('layers', this.ui);
    this.renderSelection();
  }

  private async copy(): Promise<void> {
    const code = this.code;
    if (!code) return;
    try {
      await navigator.clipboard.writeText(code);
      setText(this.copyStatus, 'Copied. Paste it into a new cell.');
    } catch {
      // Some webviews deny clipboard access; leave the code selected for Ctrl+C instead.
      const range = document.createRange();
      range.selectNodeContents(this.codeEl);
      const s = getSelection();
      s?.removeAllRanges();
      s?.addRange(range);
      setText(this.copyStatus, 'Selected the code: press Ctrl+C (Cmd+C) to copy it.');
    }
  }

  // --- details

  private showDetails(p: number | undefined): void {
    const l = p === undefined ? undefined : this.data.layers[p];
    if (!l) {
      this.detailsEl.replaceChildren(h('h4', { text: 'Layer details' }), h('p', { class: 'tl-meta', text: 'Hover over or focus a layer to see its details.' }));
      return;
    }
    if (this.detailsEl.dataset.pos === String(p)) return;
    this.detailsEl.dataset.pos = String(p);
    const dl = h('dl');
    for (const [k, v] of detailRows(l)) dl.append(h('dt', { text: k }), h('dd', { text: v }));
    this.detailsEl.replaceChildren(h('h4', { class: 'tl-layer-name', text: l.name }), dl);
  }
}

function legend(): HTMLElement {
  const item = (cls: string, text: string) => h('li', {}, h('span', { class: `tl-swatch ${cls}`, attrs: { 'aria-hidden': 'true' } }), text);
  return h(
    'ul',
    { class: 'tl-legend', attrs: { 'aria-label': 'Legend' } },
    item('tl-trainable', 'Trainable (solid)'),
    item('tl-frozen', 'Frozen (hatched, dashed border)'),
    item('tl-frozen tl-bn', 'BatchNormalization in inference mode (dot)'),
    item('tl-trainable tl-selected', 'Selected (underlined)'),
    item('tl-trainable tl-cut', 'Cut: the head takes this output (bar on the right)'),
    item('tl-frozen tl-unused', 'Unused: after the cut (faded)'),
  );
}


function grow(el: HTMLElement, n: number): HTMLElement {
  el.style.flexGrow = String(n);
  return el;
}
