/** What the embedding cache takes and gives. */

export interface EmbeddingCacheOptions {
  /** Folder for the disk cache; false: memory only. Default: $TRANSFER_LAB_CACHE/embeddings or ~/.cache/transfer-lab/embeddings. */
  cacheDir?: string | false;
  /** Batch size for the base's forward pass. */
  batchSize?: number;
  /**
   * What runs the frozen base: 'auto' (default) converts it to ONNX and runs it in ONNX Runtime
   * when onnxruntime-node loads (much faster on the CPU), else TF.js; 'onnx' insists; 'tfjs' never converts.
   */
  engine?: 'auto' | 'onnx' | 'tfjs';
}

export interface EmbeddingStats {
  samples: number;
  fromMemory: number;
  fromDisk: number;
  computed: number;
  /** Forward passes of the base (batches). 0 means the base was not run at all. */
  baseBatches: number;
  seconds: number;
  /** What ran the base, when it ran: 'onnxruntime (cpu)' or 'tfjs (wasm)', with the reason for TF.js. */
  engine?: string;
}

export interface Embeddings {
  /** Row-major [rows, dim]. */
  values: Float32Array;
  /** Shape of one embedding. */
  shape: number[];
  /** Class index per row. */
  labels: number[];
  /** Position in the dataset per row (samples that failed to decode have no row). */
  positions: number[];
  stats: EmbeddingStats;
}
