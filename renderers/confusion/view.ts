/**
 * Confusion matrix as an HTML table (readable by screen readers, selectable as text): a heatmap of
 * counts or row shares, class names on both axes, precision and recall per class beside it.
 */
import { MIME } from '../../src/common/mime';
import type { ConfusionData } from '../../src/common/shapes';
import { h, setText, uid } from '../dom';
import { accuracyOf, classMetrics, heat, normaliseRows, totalCount } from '../shaping/confusion';
import { formatInt, formatPercent } from '../shaping/format';
import { toConfusion } from '../shaping/validate';
import type { ViewState } from '../state';
import { heatColors, type Theme } from '../theme';
import type { View } from '../view';

export class ConfusionView implements View {
  readonly mime = MIME.confusion;
  readonly root: HTMLElement;
  private data!: ConfusionData;
  private normalised: boolean;
  private readonly toggle: HTMLInputElement;
  private readonly tableWrap = h('div', { class: 'tl-matrix-wrap' });
  private readonly headEl = h('div', { class: 'tl-layers-head' });
  private cells: HTMLTableCellElement[][] = [];

  constructor(data: unknown, private theme: Theme, private readonly state: ViewState, private readonly key: string) {
    this.normalised = state.get(`cm:${key}`, { normalised: false }).normalised;
    const id = uid('norm');
    this.toggle = h('input', { attrs: { type: 'checkbox', id } });
    this.toggle.checked = this.normalised;
    this.toggle.addEventListener('change', () => {
      this.normalised = this.toggle.checked;
      this.state.set(`cm:${this.key}`, { normalised: this.normalised });
      this.fill();
    });
    this.root = h(
      'section',
      { class: 'tl-root tl-confusion', attrs: { 'aria-label': 'Confusion matrix' } },
      this.headEl,
      h('div', { class: 'tl-controls' }, this.toggle, h('label', { attrs: { for: id }, text: 'Normalised (share of each true class)' })),
      this.tableWrap,
    );
    this.update(data);
  }

  update(data: unknown): void {
    this.data = toConfusion(data);
    const d = this.data;
    const total = totalCount(d.matrix);
    const acc = Number.isFinite(d.accuracy) ? d.accuracy : accuracyOf(d.matrix);
    this.headEl.replaceChildren(
      h('h3', { class: 'tl-title', text: 'Confusion matrix' }),
      h('p', { class: 'tl-meta', text: `Accuracy ${formatPercent(acc)} · ${formatInt(total)} samples · ${d.classes.length} classes` }),
    );
    this.buildTable();
    this.fill();
  }

  applyTheme(theme: Theme): void {
    this.theme = theme;
    this.fill();
  }

  dispose(): void {
    this.root.remove();
  }

  private buildTable(): void {
    const { classes } = this.data;
    const metrics = classMetrics(this.data);
    const caption = h('caption', { class: 'tl-sr', text: 'Rows: true class. Columns: predicted class. Then precision, recall and support per class.' });
    const corner = h('th', { class: 'tl-corner', attrs: { scope: 'col' } }, h('span', { text: 'true ↓ / predicted →' }));
    const headRow = h('tr', {}, corner);
    for (const c of classes) headRow.append(h('th', { class: 'tl-col', attrs: { scope: 'col', title: c } }, h('span', { text: c })));
    for (const t of ['precision', 'recall', 'support']) headRow.append(h('th', { class: 'tl-metric-head', attrs: { scope: 'col' }, text: t }));
    const body = h('tbody');
    this.cells = classes.map((c, i) => {
      const row = h('tr', {}, h('th', { class: 'tl-row', attrs: { scope: 'row', title: c }, text: c }));
      const tds = classes.map((_, j) => h('td', { class: i === j ? 'tl-cm tl-diag' : 'tl-cm' }));
      row.append(...tds);
      const m = metrics[i];
      row.append(
        h('td', { class: 'tl-metric', text: formatPercent(m.precision) }),
        h('td', { class: 'tl-metric', text: formatPercent(m.recall) }),
        h('td', { class: 'tl-metric', text: formatInt(m.support) }),
      );
      body.append(row);
      return tds;
    });
    this.tableWrap.replaceChildren(h('table', { class: 'tl-matrix', attrs: { id: uid('cm') } }, caption, h('thead', {}, headRow), body));
  }

  /** Numbers and colours: redone on the normalise toggle and theme changes, table kept. */
  private fill(): void {
    const { classes, matrix } = this.data;
    const shares = normaliseRows(matrix);
    const values = this.normalised ? shares : matrix;
    const t = heat(values, this.normalised);
    this.cells.forEach((row, i) =>
      row.forEach((td, j) => {
        const count = matrix[i][j];
        setText(td, this.normalised ? formatPercent(shares[i][j]) : formatInt(count));
        const c = heatColors(this.theme, t[i][j]);
        td.style.backgroundColor = c.bg;
        td.style.color = c.fg;
        td.title = `true ${classes[i]}, predicted ${classes[j]}: ${formatInt(count)} (${formatPercent(shares[i][j])} of ${classes[i]})`;
      }),
    );
  }
}
