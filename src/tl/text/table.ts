/** Builds an embedding table (row 0 zeros for padding, then one row a word) within a byte budget. */
import { formatBytes, budgetHint } from '../models/safety/budget';
import { printable } from '../util/text';

export interface WordVectors {
  /** In table order: word i is row i + 1. */
  words: string[];
  dim: number;
  /** Float32 [(words + 1) × dim]; row 0 is zeros (padding). May be a view into a larger buffer. */
  table: Float32Array;
  /** File or package the vectors came from. */
  source: string;
  format: 'glove' | 'word2vec' | 'wink';
  /** No word has an upper-case letter: texts are lower-cased before lookup. */
  lowercase: boolean;
  /** Words listed more than once (the first vector is kept). */
  duplicates: number;
}

export const MAX_WORD_DIM = 4096;

export class TableBuilder {
  count = 0;
  readonly words: string[] = [];
  private table: Float32Array;

  constructor(
    private readonly source: string,
    readonly dim: number,
    private readonly maxBytes: number,
    expected?: number,
  ) {
    if (!(Number.isInteger(dim) && dim >= 1 && dim <= MAX_WORD_DIM)) throw new Error(`word vectors: ${source} declares ${dim} numbers a vector; expected 1 to ${MAX_WORD_DIM}.`);
    if (expected !== undefined) this.checkRows(expected, 'declares');
    this.table = new Float32Array(((expected ?? 4095) + 1) * dim);
  }

  private checkRows(rows: number, verb: string): void {
    const bytes = (rows + 1) * this.dim * 4;
    if (!Number.isSafeInteger(rows) || bytes > this.maxBytes) {
      throw new Error(`word vectors: ${this.source} ${verb} ${rows} vectors of ${this.dim} numbers (${formatBytes(bytes)} as float32); ${budgetHint(this.maxBytes)}.`);
    }
  }

  private grow(): void {
    const rows = this.table.length / this.dim;
    const want = Math.min(rows * 2, Math.floor(this.maxBytes / 4 / this.dim));
    if (want <= rows) this.checkRows(rows, 'holds more than');
    const next = new Float32Array(want * this.dim);
    next.set(this.table);
    this.table = next;
  }

  /** Adds one vector; `values` yields the numbers as strings. */
  add(word: string, values: ArrayLike<string>, offset: number, where: string): void {
    const row = this.count + 1;
    if ((row + 1) * this.dim > this.table.length) this.grow();
    const base = row * this.dim;
    for (let k = 0; k < this.dim; k++) {
      const s = values[offset + k];
      const v = s === '' ? NaN : Number(s);
      if (!Number.isFinite(v)) throw new Error(`word vectors: ${this.source} ${where}, number ${k + 1} of ${printable(word.slice(0, 40))} is ${printable(String(s).slice(0, 20))}, not a finite number.`);
      this.table[base + k] = v;
    }
    this.words.push(word);
    this.count++;
  }

  /** "word v1 … vd": the last `dim` fields are the numbers; the word is what comes before (it may hold spaces). */
  addLine(line: string, n: number): void {
    const fields = line.split(' ');
    while (fields.length && fields[fields.length - 1] === '') fields.pop();
    if (fields.length < this.dim + 1) throw new Error(`word vectors: ${this.source} line ${n} has ${fields.length - 1} number(s) after the word; the file's vectors have ${this.dim}.`);
    const word = fields.length === this.dim + 1 ? fields[0] : fields.slice(0, fields.length - this.dim).join(' ');
    this.add(word, fields, fields.length - this.dim, `line ${n}`);
  }

  finish(format: WordVectors['format']): WordVectors {
    const seen = new Set<string>();
    let duplicates = 0;
    let upper = false;
    for (const w of this.words) {
      if (seen.has(w)) duplicates++;
      else seen.add(w);
      if (!upper && w !== w.toLowerCase()) upper = true;
    }
    const table = this.table.subarray(0, (this.count + 1) * this.dim);
    return { words: this.words, dim: this.dim, table, source: this.source, format, lowercase: !upper, duplicates };
  }
}
