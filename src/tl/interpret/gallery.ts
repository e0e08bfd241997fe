/**
 * Pictures for the interpretation outputs: image tensors back to pixels, inline PNGs, and the
 * gallery output (our renderer's JSON, with Markdown and plain-text fallbacks).
 */
import * as tf from '@tensorflow/tfjs';
import { MIME, TEXT_MARKDOWN, TEXT_PLAIN } from '../../common/mime';
import type { GalleryData, GalleryItem } from '../../common/shapes';
import type { MimeBundle } from '../../common/display';
import type { Preprocessing } from '../models/meta';
import { encodePng, upscale, type Pixels } from '../pixels';

/** Thumbnails are at most this many pixels a side; smaller images are enlarged by a whole factor up to it. */
export const THUMB_SIDE = 112;

/** An inline PNG: the only kind of image a gallery holds. */
export function pngUri(p: Pixels): string {
  return `data:image/png;base64,${encodePng(p).toString('base64')}`;
}

/**
 * One image [h, w, c] of model input back to 8-bit pixels: preprocessing undone, at most `maxSide`
 * pixels a side (smaller ones enlarged by a whole factor, so that a 28-pixel digit is visible).
 */
export function inputPixels(x: tf.Tensor3D, pre: Preprocessing | undefined, maxSide = THUMB_SIDE): Pixels {
  const [h, w, c] = x.shape;
  if (c !== 1 && c !== 3) throw new Error(`an image has 1 or 3 channels; this input has shape [${x.shape.join(', ')}].`);
  const scale = Math.min(1, maxSide / Math.max(h, w));
  const size: [number, number] = [Math.max(1, Math.round(h * scale)), Math.max(1, Math.round(w * scale))];
  const values = tf.tidy(() => {
    let y: tf.Tensor3D = pre ? tf.div(tf.sub(x, pre.offset), pre.scale) : x;
    if (!pre) {
      // Unknown preprocessing: stretch the image's own range over 0..255.
      const lo = y.min();
      y = tf.div(tf.sub(y, lo), tf.maximum(tf.sub(y.max(), lo), 1e-6)).mul(255);
    }
    if (scale < 1) y = tf.image.resizeBilinear(y, size);
    return y.clipByValue(0, 255).round().dataSync();
  });
  const p: Pixels = { data: Uint8Array.from(values), height: size[0], width: size[1], channels: c };
  return upscale(p, Math.floor(maxSide / Math.max(p.height, p.width)));
}

/** The gallery as our renderer's JSON plus Markdown and plain-text fallbacks (given, as they differ per use). */
export function galleryBundle(data: GalleryData, markdown: string, plain: string): MimeBundle {
  return { [MIME.gallery]: data, [TEXT_MARKDOWN]: markdown, [TEXT_PLAIN]: plain };
}

export function gallery(title: string, items: GalleryItem[], subtitle?: string): GalleryData {
  return { kind: 'gallery', version: 1, title, ...(subtitle ? { subtitle } : {}), items };
}

/** 0.0312 → "3.1 %". */
export function percent(p: number): string {
  return `${(100 * p).toFixed(1)} %`;
}
