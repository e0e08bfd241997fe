/** Builds DOM from text only. No innerHTML anywhere in the renderers: names come from user code. */

export interface Props {
  class?: string;
  text?: string;
  attrs?: Record<string, string>;
}

export type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.attrs) for (const [k, v] of Object.entries(props.attrs)) el.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/** Sets text only when it changed, so live regions do not re-announce the same words. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

let seq = 0;
/** Ids unique in the iframe that all outputs of a notebook share. */
export function uid(prefix: string): string {
  return `tl-${prefix}-${++seq}`;
}
