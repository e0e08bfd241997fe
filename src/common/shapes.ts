/**
 * Data shapes carried under the custom MIME types and in renderer messages.
 * Plain data only: no tensors, no DOM, no vscode.
 */

/** One point per finished epoch. Metric keys follow Keras names: loss, acc, val_loss, val_acc. */
export interface EpochPoint {
  epoch: number; // 1-based
  loss?: number;
  acc?: number;
  val_loss?: number;
  val_acc?: number;
  lr?: number;
  /** Seconds this epoch took. */
  seconds?: number;
}

/** One point per (throttled) batch while an epoch runs. */
export interface BatchPoint {
  epoch: number; // 1-based
  batch: number; // 0-based within the epoch
  /** Global step: (epoch - 1) * batchesPerEpoch + batch + 1. */
  step: number;
  loss?: number;
  acc?: number;
}

export type RunStatus = 'running' | 'done' | 'early-stopped' | 'interrupted' | 'error';

/** The whole state of one training run. The output item always holds this; messages only add to it. */
export interface TrainingRun {
  kind: 'training';
  version: 1;
  /** Unique per fit; lets the renderer match messages to views and compare runs. */
  runId: string;
  title?: string;
  /** e.g. "head" / "fine-tune" for the two phases of tl.fineTune. */
  phase?: string;
  status: RunStatus;
  epochs: number;
  batchesPerEpoch?: number;
  samples?: number;
  history: EpochPoint[];
  /** Batch-level points. May be decimated for long runs; the epoch history is never decimated. */
  batches: BatchPoint[];
  /** Samples per second, most recent. */
  throughput?: number;
  /** Estimated seconds left. */
  etaSeconds?: number;
  /** The monitored best epoch (early stopping / checkpoint). */
  best?: { epoch: number; monitor: string; value: number };
  message?: string;
  startedAt?: number;
}

export type TrainingMessage =
  | { type: 'batch'; runId: string; point: BatchPoint; throughput?: number; etaSeconds?: number }
  | { type: 'epoch'; runId: string; point: EpochPoint; throughput?: number; etaSeconds?: number }
  | { type: 'status'; runId: string; status: RunStatus; message?: string };

export interface LayerInfo {
  index: number;
  name: string;
  className: string;
  /** e.g. [null, 28, 28, 8]; several outputs give several shapes. */
  outputShape: (number | null)[] | (number | null)[][];
  trainableParams: number;
  nonTrainableParams: number;
  trainable: boolean;
  /** Structural group, e.g. "block_13" for MobileNetV2's block_13_* layers. */
  block: string;
  /** True for a frozen BatchNormalization, which runs in inference mode. */
  bnInference?: boolean;
  /** True for a base's layer after the cut: the model with the head does not use it. */
  unused?: boolean;
}

/** Where withHead() cut a base, on the freeze map of the base or of the model with the head. */
export interface CutMark {
  /** Index (as in LayerInfo.index) of the layer whose output the head takes. */
  index: number;
  layer: string;
  /** Why there, in words. */
  reason: string;
  /** On a base's map: the model with the head, which does not use the layers marked `unused`. */
  model?: string;
}

export interface LayerMap {
  kind: 'layers';
  version: 1;
  modelName: string;
  layers: LayerInfo[];
  totals: { trainable: number; nonTrainable: number; total: number };
  cut?: CutMark;
  /** What turns the input into the first layer's numbers when it is not a layer (a text model's tokenizer), as one line. */
  input?: string;
}

/** tl.lrFind's sweep: the loss against the learning rate (log scale), and the rate it suggests. */
export interface LrFindData {
  kind: 'lrfind';
  version: 1;
  /** The rate of each step, growing exponentially. */
  lrs: number[];
  /** The smoothed loss of each step (what the chart draws). */
  losses: number[];
  /** The loss of each step as measured. */
  raw?: number[];
  /** The suggested rate: the steepest descent of the smoothed loss before its minimum. */
  suggestion: number;
  /** The rate at the smallest smoothed loss, divided by 10 (fastai's "minimum"). */
  minimum: number;
  /** The sweep asked for. */
  minLr: number;
  maxLr: number;
  steps: number;
  /** Why the sweep ended early (divergence), if it did. */
  stoppedReason?: string;
  title?: string;
}

export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ConfusionData {
  kind: 'confusion';
  version: 1;
  classes: string[];
  /** matrix[trueIndex][predictedIndex] = count */
  matrix: number[][];
  accuracy: number;
  perClass: ClassMetrics[];
}

/** One picture of a gallery: an inline PNG and the lines under it (text, never markup). */
export interface GalleryItem {
  /** `data:image/png;base64,…`: nothing is loaded from anywhere. Absent for samples that are not images. */
  image?: string;
  /** What the picture shows, for screen readers. */
  alt: string;
  lines: string[];
  /** Marks a picture the lines call out (a wrong prediction). */
  flag?: boolean;
}

/** Pictures with captions: tl.topLosses' worst predictions, tl.explain's image and heatmap. */
export interface GalleryData {
  kind: 'gallery';
  version: 1;
  title: string;
  subtitle?: string;
  items: GalleryItem[];
}

export interface SkippedBackend {
  backend: string;
  reason: string;
  /** The loader's own error message, verbatim. */
  error?: string;
}

export interface DeviceReport {
  kind: 'device';
  version: 1;
  backend: string;
  device: string;
  /** How the backend was chosen: "auto", "setting" or "notebook metadata". */
  requestedBy: string;
  requested: string;
  skipped: SkippedBackend[];
  tfjsVersion?: string;
  node: string;
  platform: string;
  /** The native engines beside TF.js: ONNX Runtime, the image decoder, WebGPU adapters. */
  engines?: EngineStatus[];
}

/** One native engine in the device report: what runs, or why it is missing and where it was looked for. */
export interface EngineStatus {
  engine: 'onnxruntime' | 'decoder' | 'webgpu';
  ok: boolean;
  /** What runs, e.g. "onnxruntime-node 1.30.0", "sharp 0.35.5 (libvips 8.18.7)". */
  summary: string;
  /** Details, one line each: providers and why each is skipped, adapters. */
  details: string[];
  /** Package folder it was loaded from. */
  from?: string;
  /** Why it is missing or did not load. */
  reason?: string;
  /** The node_modules folders searched, in order, each once. */
  lookedIn?: string[];
}
