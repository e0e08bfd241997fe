/**
 * What the tl core knows about a text base: how text becomes numbers for it. Kept in the model's
 * metadata (ModelMeta.text), written into saved model folders; the vocabulary itself rides beside it
 * (vocab.ts) and is saved as its own file.
 */

export type TextPooling = 'mean' | 'max' | 'mean+max';
/** A sentence encoder pools its token vectors too: also the [CLS] token's, or 'model' when the graph gives one vector a text itself. */
export type EncoderPooling = TextPooling | 'cls' | 'model';

export interface TextInfo {
  /** 'word-vectors': tokens → embedding table → pooling inside the TF.js model. 'sentence-encoder': an ONNX model outside it. */
  kind: 'word-vectors' | 'sentence-encoder';
  /** Where the vectors or the encoder came from (package name or file), for summaries. */
  source: string;
  /** Texts are lower-cased before lookup (the vocabulary has no upper-case words). */
  lowercase: boolean;
  /** Tokens kept per text; the rest are cut off. */
  maxLength: number;
  pooling: EncoderPooling;
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
  /** Sentence encoders: the tokenizer.json's model type (WordPiece, BPE, Unigram). */
  tokenizerModel?: string;
  /** Sentence encoders: the graph output that is pooled (or is the sentence vector). */
  encoderOutput?: string;
}

const POOLING_WORDS: Record<EncoderPooling, string> = {
  mean: 'mean pooling over the real tokens (attention mask)',
  max: 'max pooling over the real tokens (attention mask)',
  'mean+max': 'mean and max pooling over the real tokens (attention mask), side by side',
  cls: 'the first ([CLS]) token\'s vector',
  model: "the graph's own sentence vector",
};

/** One line for summaries: what the text base does with a text. */
export function describeTextInfo(t: TextInfo): string {
  if (t.kind === 'sentence-encoder') {
    return (
      `text base: ONNX sentence encoder ${t.source}, frozen (runs in ONNX Runtime). Tokenizer: tokenizer.json (${t.tokenizerModel ?? 'tokenizer'}, ${t.vocabularySize} tokens${t.lowercase ? ', lower-cased' : ', cased'}), ` +
      `up to ${t.maxLength} tokens a text (longer texts are cut); ${POOLING_WORDS[t.pooling]} → ${t.dim} numbers.`
    );
  }
  return (
    `text base: ${t.vocabularySize} word vectors of ${t.dim} numbers (${t.source}); words${t.lowercase ? ' lower-cased,' : ''} split on spaces and punctuation, ` +
    `up to ${t.maxLength} tokens a text; unknown words are skipped; ${t.pooling} pooling over the known words (an empty text gives zeros).`
  );
}
