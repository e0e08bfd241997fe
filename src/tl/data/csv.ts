/** tl.csv(): a CSV file with a header row, numeric feature columns and a label column. */
import * as fsp from 'node:fs/promises';
import Papa from 'papaparse';
import { lineAndColumn, lineStarts } from '../../common/lines';
import { terminalJson } from '../../common/terminal';
import { printable } from '../util/text';
import { spellsNonFinite } from './finite';
import { ArraySource } from './arrays';
import { makeData } from './dataset';
import { textCsv } from './textCsv';
import type { CsvBadRow, CsvData, CsvOptions, TextData } from './types';

export interface CsvRow {
  line: number;
  values: string[];
}

interface GoodRow {
  line: number;
  label: string;
  x: number[];
}

/** The columns to read: the label's index, the feature names and their indices. */
interface CsvColumns {
  labelCol: number;
  features: string[];
  featureCols: number[];
}

/**
 * Reads a CSV with a header row: numeric feature columns and a label column, or (with `text`) a
 * text column and a label column. Bad rows are listed, not fatal.
 */
export async function csv(file: string, opts: CsvOptions & { text: string }): Promise<TextData>;
export async function csv(file: string, opts: CsvOptions): Promise<CsvData>;
export async function csv(file: string, opts: CsvOptions): Promise<CsvData | TextData> {
  if (!opts || !opts.label) throw new Error('csv(): give the label column, e.g. csv("iris.csv", { label: "species" })');
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`csv(): cannot read ${file}: ${(e as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const { header, rows, badRows } = parseRows(text);
  if (!header) throw new Error(`csv(): ${file} is empty (no header row).`);
  if (opts.text !== undefined) return textCsv(file, header, rows, badRows, opts);
  const cols = pickColumns(file, header, opts);
  const good = numericRows(file, rows, header.length, cols, opts, badRows);
  badRows.sort((a, b) => a.line - b.line);
  if (good.length === 0) {
    const first = badRows.slice(0, 3).map((b) => `line ${b.line}: ${b.reason}`).join('; ');
    throw new Error(`csv(): ${file} has no usable rows${first ? ` (${first})` : ''}.`);
  }
  warnBadRows(file, badRows);
  const { features } = cols;
  const classes = opts.classes ?? [...new Set(good.map((g) => g.label))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const labels = good.map((g) => index.get(g.label) as number);
  const values = new Float32Array(good.length * features.length);
  good.forEach((g, r) => values.set(g.x, r * features.length));
  const src = new ArraySource('csv', file, classes, labels, [features.length], values, `csv:${features.join(',')}`, (i) => `line ${good[i].line}`);
  const data = makeData<'csv'>(src, opts, undefined, () => ({ file, features, badRows }));
  return data as CsvData;
}

/** One warning for the rows left out. */
export function warnBadRows(file: string, badRows: CsvBadRow[]): void {
  if (!badRows.length) return;
  const first = badRows.slice(0, 5).map((b) => `line ${b.line}: ${b.reason}`).join('\n  ');
  console.warn(`csv(): skipped ${badRows.length} bad row(s) in ${file}:\n  ${first}${badRows.length > 5 ? '\n  …' : ''}`);
}

/** Splits the text into the header and the rows, each with its line number; rows Papa cannot parse are bad rows. */
export function parseRows(text: string): { header?: string[]; rows: CsvRow[]; badRows: CsvBadRow[] } {
  const starts = lineStarts(text);
  let header: string[] | undefined;
  const rows: CsvRow[] = [];
  const badRows: CsvBadRow[] = [];
  let rowStart = 0;
  Papa.parse<string[]>(text, {
    header: false,
    skipEmptyLines: false,
    step: (result) => {
      const line = lineAndColumn(starts, rowStart).line;
      rowStart = result.meta.cursor;
      // Skip the line break that ends this row so the next row's start is its first character.
      while (rowStart < text.length && (text[rowStart] === '\n' || text[rowStart] === '\r')) {
        rowStart++;
        if (text[rowStart - 1] === '\n') break;
      }
      const values = result.data;
      if (values.length === 1 && values[0].trim() === '') return;
      // Papa cannot guess the delimiter of a file with one column plus the label; it then uses a
      // comma, which is right, and says so on the first row: not a bad row.
      const errors = result.errors.filter((e) => e.type !== 'Delimiter');
      if (errors.length) {
        badRows.push({ line, reason: errors.map((e) => e.message).join('; ') });
        return;
      }
      if (!header) header = values.map((v) => v.trim());
      else rows.push({ line, values });
    },
  });
  return { header, rows, badRows };
}

export function assertUniqueHeader(file: string, head: string[]): void {
  const dup = head.findIndex((h, i) => head.indexOf(h) !== i);
  if (dup >= 0) {
    throw new Error(`csv(): ${file} has two columns named '${printable(head[dup])}' (columns ${head.indexOf(head[dup]) + 1} and ${dup + 1}); rename one so that each column has its own name.`);
  }
}

/** A column's index, or an error that lists the columns there are. */
export function columnIndex(file: string, head: string[], name: string, what: string): number {
  const i = head.indexOf(name);
  if (i < 0) throw new Error(`csv(): ${file} has no ${what} column '${printable(name)}'; its columns are: ${head.map(printable).join(', ')}`);
  return i;
}

/** The label and feature columns named in `opts`, checked against the header. */
function pickColumns(file: string, head: string[], opts: CsvOptions): CsvColumns {
  assertUniqueHeader(file, head);
  const labelCol = head.indexOf(opts.label);
  if (labelCol < 0) throw new Error(`csv(): ${file} has no column '${printable(opts.label)}'; its columns are: ${head.map(printable).join(', ')}`);
  const features = opts.features ?? head.filter((_, i) => i !== labelCol);
  if (features.length === 0) throw new Error(`csv(): ${file} has no feature columns besides the label '${printable(opts.label)}'.`);
  const featureCols = features.map((f) => {
    const i = head.indexOf(f);
    if (i < 0) throw new Error(`csv(): ${file} has no feature column '${printable(f)}'; its columns are: ${head.map(printable).join(', ')}`);
    if (i === labelCol) throw new Error(`csv(): '${printable(f)}' is the label column and cannot also be a feature.`);
    return i;
  });
  return { labelCol, features, featureCols };
}

/** The rows with a known label and a number in every feature column; the others go to `badRows`. */
function numericRows(file: string, rows: CsvRow[], width: number, cols: CsvColumns, opts: CsvOptions, badRows: CsvBadRow[]): GoodRow[] {
  const good: GoodRow[] = [];
  for (const { line, values } of rows) {
    const reason = rowProblem(values, width, cols.labelCol, opts);
    if (reason) {
      badRows.push({ line, reason });
      continue;
    }
    const x = rowNumbers(file, line, values, cols);
    if (typeof x === 'string') badRows.push({ line, reason: x });
    else good.push({ line, label: values[cols.labelCol].trim(), x });
  }
  return good;
}

/** Why a row's shape or label is unusable, or undefined. */
export function rowProblem(values: string[], width: number, labelCol: number, opts: CsvOptions): string | undefined {
  if (values.length !== width) return `${values.length} fields, the header has ${width}`;
  const label = values[labelCol].trim();
  if (label === '') return `empty label in column '${printable(opts.label)}'`;
  if (opts.classes && !opts.classes.includes(label)) return `label '${printable(label)}' is not one of the classes (${opts.classes.map(printable).join(', ')})`;
  return undefined;
}

/** A row's feature values, or why one is not a number. NaN and Infinity spelled out are an error. */
function rowNumbers(file: string, line: number, values: string[], { features, featureCols }: CsvColumns): number[] | string {
  const x: number[] = [];
  for (let k = 0; k < featureCols.length; k++) {
    const raw = values[featureCols[k]].trim();
    if (spellsNonFinite(raw)) throw new Error(`csv(): ${file} line ${line}, column '${printable(features[k])}' is ${printable(raw)}. NaN and Infinity are not allowed in the input; remove the row or fill the value.`);
    const v = raw === '' ? NaN : Number(raw);
    if (!Number.isFinite(v)) return `column '${printable(features[k])}' is ${terminalJson(raw)}, not a number`;
    x.push(v);
  }
  return x;
}
