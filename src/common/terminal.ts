/**
 * Untrusted text (class and folder names, labels, file names, what a cell prints) on its way to a
 * terminal. Control characters become visible escapes, so no name can move the cursor, retitle the
 * terminal, hide text behind a bidirectional override or start a line that looks like our own.
 */

/** C0 and C1 controls, DEL, bidirectional marks and overrides, and the Unicode line separators. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };

function visible(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Whether `text` holds anything a terminal would act on rather than show. */
export function hasControl(text: string): boolean {
  CONTROL.lastIndex = 0;
  return CONTROL.test(String(text));
}

/** A name or a label: one line, every control character escaped (newlines included). */
export function terminalName(text: string): string {
  return String(text).replace(CONTROL, visible);
}

/** Colours only: Select Graphic Rendition, `ESC [ digits ; … m`. */
const SGR = /^\u001b\[[0-9;:]*m/;

/**
 * Text of several lines (cell output, error messages): newlines and tabs stay, a carriage return
 * only as part of CRLF, colour codes only when `keepColors`; every other control is escaped.
 */
export function terminalText(text: string, opts: { keepColors?: boolean } = {}): string {
  const s = String(text);
  let out = '';
  let last = 0;
  CONTROL.lastIndex = 0;
  for (let m = CONTROL.exec(s); m; m = CONTROL.exec(s)) {
    const i = m.index;
    const ch = m[0];
    const keep = ch === '\n' || ch === '\t' || (ch === '\r' && s[i + 1] === '\n');
    if (!keep && ch === '\u001b' && opts.keepColors) {
      const sgr = SGR.exec(s.slice(i, i + 64));
      if (sgr) {
        out += s.slice(last, i) + sgr[0];
        last = i + sgr[0].length;
        CONTROL.lastIndex = last;
        continue;
      }
    }
    out += s.slice(last, i) + (keep ? ch : visible(ch));
    last = i + 1;
  }
  return out + s.slice(last);
}

/** What JSON.stringify leaves raw in strings: DEL, C1, bidirectional marks, line separators. */
const RAW_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** JSON for a terminal: still valid JSON, with no raw control character anywhere. */
export function terminalJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, null, indent).replace(RAW_IN_JSON, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
