/**
 * The embedding cache: while a model's base is frozen, the base's output for a sample never changes,
 * so it is computed once and the head trains on it directly.
 *
 * Correctness rests on three facts, each checked rather than assumed:
 *  - the cut: everything upstream of the cut tensor is frozen and behaves the same in training and
 *    inference (no dropout/noise layers; BatchNormalization only when frozen, which freeze.ts runs
 *    in inference mode), and every path from the input to the output passes through it;
 *  - the key: base weights hash (values, not names) + the dataset's inputKey (decoder, size,
 *    preprocessing) + each sample's content hash, so any change to weights, pixels or
 *    preprocessing misses the cache;
 *  - no augmentation: an augmented sample is a new input every epoch, so its embedding cannot be
 *    reused; fit() turns the cache off (and says so) when the training split augments.
 * Entries live in memory (bounded, least recently used out first) and on disk (one file per set of
 * samples, written to a temp file and renamed, so a reader never sees half a file).
 */
export type { EmbeddingCacheOptions, EmbeddingStats, Embeddings } from './types';
export { embeddingCacheDir, clearEmbeddingCache, embeddingMemoryStats } from './store';
export { layersHash, splitAtFrozenBase, type FrozenSplit } from './frozenBase';
export { computeEmbeddings, embeddingDataset } from './compute';
