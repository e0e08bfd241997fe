/**
 * The transfer-learning API that notebook cells see as `tl`.
 * Plain TypeScript over TensorFlow.js: no vscode, no DOM.
 */
// Keras semantics for frozen BatchNormalization (installed when batchnorm loads), and a model as a
// cell's value shows its freeze map.
import './batchnorm';
import { installModelDisplay } from './inspect';

installModelDisplay();

export { device, webgpuMaxBatch } from './device';
export { setOutputSink, onInterrupt, isInterruptRequested, InterruptedError } from './output';
export { getMeta as meta, type ModelMeta, type Preprocessing } from './models/meta';

// --- models
export { load, bundledNames, loadLayersFromDir, assertTrainable, isGraphModel, isLayersModel, type AnyModel, type LoadOptions, type LoadProgress } from './models';
export { ZOO as zoo, findZooEntry, zooNames, type ZooEntry } from './models/zoo';
export { mobileNetV2Like, digitsCnn } from './builders';

// --- inspect, freeze, heads, export
export { layers, summary, freezeMapBundle, formatLayerTable } from './inspect';
export { freeze, unfreeze, selectLayers } from './freeze';
export { withHead, type HeadOptions } from './heads';
export { save, type SaveMeta, type SaveOptions, type SaveResult } from './export';

// --- data
export { imageFolder, textFolder, csv, fromTensors, fromArrays, type Dataset, type DataSplit, type LabeledData, type ImageFolderData, type CsvData, type TextData, type Batch, type AugmentOptions, type ImageFolderOptions, type TextFolderOptions, type CsvOptions, type SkippedFile } from './data';
export { decodeImage, decoderInfo, type DecodedImage } from './data/decode';
export { show, type ShowOptions } from './show';
export { wordVectorBase, wordTokens, type TextInfo, type TextLoadOptions, type WordBaseOptions } from './text';

// --- train and evaluate
export { fit, fineTune, lrFind, makeOptimizer, setLearningRate, getLearningRate, scheduledLr, type FitOptions, type FitResult, type FineTuneOptions, type FineTuneResult, type LRSchedule, type LrFindOptions, type LrFindResult } from './train';
export { evaluate, predict, type EvaluateOptions, type EvaluationResult, type Prediction, type PredictOptions } from './evaluate';
export { clearEmbeddingCache, embeddingMemoryStats } from './embeddings';

// --- interpretation
export { topLosses, explain, type TopLoss, type TopLossesOptions, type Explanation, type ExplainOptions } from './interpret';
export { registerWasmGradients } from './wasm-grads';

// --- ONNX Runtime: frozen bases converted to ONNX, and .onnx models as feature extractors
export { toOnnx, onnxBase, splitFrozen, featureExtractor, loadOnnx, DecodePool, onnxRuntimeInfo, UnsupportedLayerError } from './onnx';
export type { FeatureExtractor, Features, OnnxConversion, OrtReport, OnnxLoadOptions, OnnxBaseOptions } from './onnx';
