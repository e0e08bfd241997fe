/**
 * The ONNX fast path for frozen bases: TF.js layers → ONNX conversion, .onnx files as bases,
 * feature extraction on onnxruntime-node with the best execution provider, and a worker-thread
 * decode pipeline that keeps it fed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { convertToOnnx, type ConvertOptions, type OnnxConversion } from './convert';
import { tryLoadOrt, ortLoadError } from './ort';
import { writeFileAtomicSync } from '../util/atomic';

export { convertToOnnx, describeConversion, UnsupportedLayerError } from './convert';
export type { ConvertOptions, OnnxConversion, ValueSpec } from './convert';
export { onnxBase, splitFrozen, featureExtractor, isFeatureExtractor, OnnxFeatureExtractor, TfjsFeatureExtractor } from './extractor';
export type { FeatureExtractor, Features, FrozenSplit, OnnxBaseOptions } from './extractor';
export { loadOnnx, isOnnxPath, IMAGENET } from './load';
export type { OnnxLoadOptions, OnnxModelInfo } from './load';
export { createSession, formatOrtReport, ortLoadError, DEFAULT_PROVIDERS } from './ort';
export type { OrtReport, ProviderName, SessionOptions, SkippedProvider } from './ort';
export { DecodePool } from './pipeline';
export type { DecodePoolOptions, ImageBatch } from './pipeline';

/**
 * Converts a TF.js layers model to ONNX and, with `file`, writes the .onnx file. The result says
 * which layers converted and where it stopped (a layer that does not convert is named there).
 */
export function toOnnx(model: tf.LayersModel, opts: ConvertOptions & { file?: string } = {}): OnnxConversion {
  const c = convertToOnnx(model, opts);
  if (opts.file) {
    if (!c.onnx) throw new Error(`toOnnx: nothing could be converted (${c.stop ? `layer '${c.stop.layer}' (${c.stop.className}): ${c.stop.reason}` : 'no layers'}), so no file was written.`);
    if (c.tail) throw new Error(`toOnnx: layer '${c.stop?.layer}' (${c.stop?.className}) ${c.stop?.kind === 'unsupported' ? `cannot be converted (${c.stop.reason})` : 'ends the conversion'}; a .onnx file of only part of the model was not written.`);
    const file = path.resolve(opts.file);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomicSync(file, c.onnx);
  }
  return c;
}

/** What the device report says about ONNX Runtime: whether it loads, its version and the providers its build has. */
export function onnxRuntimeInfo(): { available: boolean; version?: string; providers?: { name: string; bundled: boolean }[]; reason?: string } {
  const ort = tryLoadOrt();
  if (!ort) return { available: false, reason: ortLoadError() };
  const v = ort.env.versions as Record<string, string | undefined>;
  return { available: true, version: v.node ?? v.common, providers: ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled })) };
}
