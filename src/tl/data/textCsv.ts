/** tl.csv(file, { text, label }): a CSV file's text column as labelled texts. */
import { makeData } from './dataset';
import { assertUniqueHeader, columnIndex, rowProblem, warnBadRows, type CsvRow } from './csv';
import { TextSource } from './textSource';
import type { CsvBadRow, CsvOptions, TextData } from './types';

/** Texts longer than this are cut (a CSV cell is no place for a book). */
const MAX_TEXT_CHARS = 1024 * 1024;

export function textCsv(file: string, header: string[], rows: CsvRow[], badRows: CsvBadRow[], opts: CsvOptions): TextData {
  assertUniqueHeader(file, header);
  const labelCol = columnIndex(file, header, opts.label, 'label');
  const textCol = columnIndex(file, header, opts.text as string, 'text');
  if (labelCol === textCol) throw new Error(`csv(): the text and the label cannot be the same column ('${opts.label}').`);
  const good: { line: number; label: string; text: string }[] = [];
  for (const { line, values } of rows) {
    const reason = rowProblem(values, header.length, labelCol, opts);
    const text = values[textCol];
    if (reason) badRows.push({ line, reason });
    else if (text === undefined || text.trim() === '') badRows.push({ line, reason: 'empty text' });
    else if (text.length > MAX_TEXT_CHARS) badRows.push({ line, reason: `the text has ${text.length} characters, more than ${MAX_TEXT_CHARS}` });
    else good.push({ line, label: values[labelCol].trim(), text });
  }
  badRows.sort((a, b) => a.line - b.line);
  if (good.length === 0) throw new Error(`csv(): ${file} has no usable rows${badRows.length ? ` (line ${badRows[0].line}: ${badRows[0].reason})` : ''}.`);
  warnBadRows(file, badRows);
  const classes = opts.classes ?? [...new Set(good.map((g) => g.label))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const texts = good.map((g) => g.text);
  const skipped = badRows.map((b) => ({ file: `${file} line ${b.line}`, reason: b.reason }));
  const src = new TextSource(file, classes, good.map((g) => index.get(g.label) as number), texts, good.map((g) => `line ${g.line}`), skipped);
  return makeData<'text'>(src, opts, undefined, () => ({ source: file, texts, badRows })) as TextData;
}
