/** Text from data and models (file and class names) inside Markdown outputs: shown as written, never as markup. */

/** Escapes every character Markdown or inline HTML could act on, and turns line breaks into spaces (one table cell, one line). */
export function markdownText(text: string): string {
  return String(text)
    .replace(/[\r\n\u2028\u2029]+/g, ' ')
    .replace(/[\\`*_{}[\]()#+\-.!|<>~&"']/g, (c) => `\\${c}`);
}
