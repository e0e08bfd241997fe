/** A word vocabulary: word → row of the embedding table. Row 0 is padding, so word i is row i + 1. */
import type { TextInfo } from './types';

export class Vocabulary {
  private readonly index = new Map<string, number>();

  /** `words` in table order; a word listed twice keeps its first row. */
  constructor(readonly words: readonly string[]) {
    words.forEach((w, i) => {
      if (!this.index.has(w)) this.index.set(w, i + 1);
    });
  }

  get size(): number {
    return this.words.length;
  }

  /** The table row of a word, or 0 when it is unknown. */
  row(word: string): number {
    return this.index.get(word) ?? 0;
  }

  /** One word a line, in table order (vocab.txt). Words hold no line breaks (the readers split on them). */
  toText(): string {
    return this.words.join('\n') + '\n';
  }

  static fromText(text: string): Vocabulary {
    const words = text.split('\n');
    if (words[words.length - 1] === '') words.pop();
    return new Vocabulary(words.map((w) => (w.endsWith('\r') ? w.slice(0, -1) : w)));
  }
}

const vocabularies = new WeakMap<TextInfo, Vocabulary>();

export function setVocabulary(info: TextInfo, vocab: Vocabulary): void {
  vocabularies.set(info, vocab);
}

export function vocabularyOf(info: TextInfo): Vocabulary | undefined {
  return vocabularies.get(info);
}
