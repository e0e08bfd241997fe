/**
 * What the tl core knows about a model beyond its weights: its classes, input size and preprocessing.
 * Kept beside the model object (WeakMap), and written into exported model folders as metadata.
 */
import type { TextInfo } from '../text/types';

/** Pixel preprocessing applied after decode + resize, on values in [0, 255]: x * scale + offset. */
export interface Preprocessing {
  /** e.g. 1/127.5 for MobileNet's [-1, 1]; 1/255 for [0, 1]. */
  scale: number;
  /** e.g. -1 for MobileNet's [-1, 1]; 0 for [0, 1]. */
  offset: number;
  /** 1 for grayscale models, 3 for RGB. */
  channels: 1 | 3;
}

export interface ModelMeta {
  /** Human name: bundled name, zoo name, file or URL. */
  name: string;
  /** Where it came from: 'bundled' | 'zoo' | 'file' | 'url' | 'code'. */
  source: string;
  /** Class labels of the model's output, when known. */
  classes?: string[];
  /** [height, width] of the image input, when the model takes images. */
  inputSize?: [number, number];
  preprocessing?: Preprocessing;
  /** 'layers' models train; 'graph' models are frozen feature extractors only. */
  format: 'layers' | 'graph';
  /** The layer whose output makes the best features for a new head (withHead's default cut). */
  featureLayer?: string;
  /** Text models: how texts become the model's input (tokenizer, vocabulary, pooling). */
  text?: TextInfo;
}

const metas = new WeakMap<object, ModelMeta>();

export function setMeta(model: object, meta: ModelMeta): void {
  metas.set(model, meta);
}

export function getMeta(model: object): ModelMeta | undefined {
  return metas.get(model);
}

export const PREPROCESS_UNIT: Preprocessing = { scale: 1 / 255, offset: 0, channels: 3 };
export const PREPROCESS_MOBILENET: Preprocessing = { scale: 1 / 127.5, offset: -1, channels: 3 };

/** The largest image side a model's metadata may ask for: inputs beyond it are a broken or hostile file. */
export const MAX_IMAGE_SIDE = 8192;
/** The most pixels one input image may have (a 4096 × 4096 RGB float32 image is 192 MiB). */
export const MAX_IMAGE_PIXELS = 4096 * 4096;

/** Why `size` cannot be an image input size ([height, width] in pixels), or undefined when it can. */
export function imageSizeProblem(size: unknown): string | undefined {
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && (v as number) > 0)) {
    return 'must be [height, width] in pixels';
  }
  const [h, w] = size as [number, number];
  if (h > MAX_IMAGE_SIDE || w > MAX_IMAGE_SIDE || h * w > MAX_IMAGE_PIXELS) {
    return `is [${h}, ${w}]: images are at most ${MAX_IMAGE_SIDE} pixels a side and ${MAX_IMAGE_PIXELS} pixels in all`;
  }
  return undefined;
}

// --- hints that are not part of ModelMeta

const featureHints = new WeakMap<object, string>();

/** The layer whose output is the usual feature map for a head (zoo models say which). */
export function featureLayerHint(model: object): string | undefined {
  return featureHints.get(model);
}

export function setFeatureLayerHint(model: object, layerName: string): void {
  featureHints.set(model, layerName);
}
