/**
 * Labelled data for fit / evaluate / embeddings: image folders (imageFolder.ts over imageSource.ts
 * and folder-scan.ts), CSV files (csv.ts) and in-memory tensors (arrays.ts), all as the same
 * LabeledData (types.ts) of Datasets (dataset.ts), split by split.ts.
 */
export * from './types';
export { seededRandom, shuffleInPlace, stratifiedSplit, countByClass } from './split';
export { resolveAugment, describeData, isDataset, asSplit } from './dataset';
export { fromArrays, fromTensors } from './arrays';
export { csv } from './csv';
export { imageFolder } from './imageFolder';
export { textFolder } from './textFolder';
