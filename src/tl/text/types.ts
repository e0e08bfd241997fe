/**
 * What the tl core knows about a text base: how text becomes numbers for it. Kept in the model's
 * metadata (ModelMeta.text), written into saved model folders; the vocabulary itself rides beside it
 * (vocab.ts) and is saved as its own file.
 */

export type TextPooling = 'mean' | 'max' | 'mean+max';

export interface TextInfo {
  /** 'word-vectors': tokens → embedding table → pooling inside the TF.js model. 'sentence-encoder': an ONNX model outside it. */
  kind: 'word-vectors' | 'sentence-encoder';
  /** Where the vectors or the encoder came from (package name or file), for summaries. */
  source: string;
  /** Texts are lower-cased before lookup (the vocabulary has no upper-case words). */
  lowercase: boolean;
  /** Tokens kept per text; the rest are cut off. */
  maxLength: number;
  pooling: TextPooling;
  vocabularySize: number;
  /** Length of one word (or sentence) vector. */
  dim: number;
  /** Learning-rate multiplier for the embedding table when it is unfrozen (word vectors). */
  fineTuneRate: number;
  /** The layer holding the embedding table (word vectors). */
  embeddingLayer?: string;
  /** File names in a saved model folder. */
  vocabFile?: string;
  tokenizerFile?: string;
  onnxFile?: string;
}

/** One line for summaries: what the text base does with a text. */
export function describeTextInfo(t: TextInfo): string {
  if (t.kind === 'sentence-encoder') {
    return `text base: ONNX sentence encoder (${t.source}), tokenizer.json with ${t.vocabularySize} tokens, up to ${t.maxLength} tokens a text, ${t.pooling} pooling → ${t.dim} numbers; frozen (runs in ONNX Runtime).`;
  }
  return (
    `text base: ${t.vocabularySize} word vectors of ${t.dim} numbers (${t.source}); words${t.lowercase ? ' lower-cased,' : ''} split on spaces and punctuation, ` +
    `up to ${t.maxLength} tokens a text; unknown words are skipped; ${t.pooling} pooling over the known words (an empty text gives zeros).`
  );
}
