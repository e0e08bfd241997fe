/**
 * Rich views of our own objects: a tensor as its shape, dtype and a value preview; `tl.show(t)`
 * for an image tensor as an image; an image-folder data set as a thumbnail strip per class.
 * Class names and other labels are text: escaped wherever they go into HTML.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DISPLAY_SYMBOL, type MimeBundle } from '../common/display';
import { TEXT_PLAIN } from '../common/mime';
import type { ImageFolderData } from './data';
import { decodeImage } from './data/decode';
import { getOutputSink } from './output';
import { encodePng, type Pixels, tensorPixels, tile, upscale } from './pixels';

/** Tensors from this or another copy of TF.js (a workspace's tfjs-node), told apart by shape. */
interface TensorLike {
  dtype: string;
  shape: number[];
  isDisposed: boolean;
  size: number;
  dataSync(): ArrayLike<number | string>;
  toString(verbose?: boolean): string;
}

export function isTensorLike(v: unknown): v is TensorLike {
  const t = v as TensorLike;
  return !!t && typeof t === 'object' && typeof t.dataSync === 'function' && Array.isArray(t.shape) && typeof t.dtype === 'string';
}

/** Statistics are skipped above this many values: a preview must stay cheap. */
const STATS_LIMIT = 10_000_000;

/** `Tensor float32 [2, 3] · min 0 · max 5 · mean 2.5`, then TF.js's own (abridged) values. */
export function tensorText(t: TensorLike): string {
  const shape = `[${t.shape.join(', ')}]`;
  if (t.isDisposed) return `Tensor ${t.dtype} ${shape} (disposed)`;
  const head = [`Tensor ${t.dtype} ${shape}`];
  if (t.size > 1 && t.size <= STATS_LIMIT && t.dtype !== 'string' && t.dtype !== 'complex64') {
    const v = t.dataSync() as ArrayLike<number>;
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (let i = 0; i < v.length; i++) {
      const x = Number(v[i]);
      if (x < min) min = x;
      if (x > max) max = x;
      sum += x;
    }
    head.push(`min ${fmt(min)}`, `max ${fmt(max)}`, `mean ${fmt(sum / v.length)}`);
  }
  // TF.js prints "Tensor" and then the values, abridged with "..." past 20 per axis.
  const values = t
    .toString()
    .replace(/^Tensor\n/, '')
    .split('\n')
    .map((l) => l.replace(/^ {4}/, ''))
    .join('\n');
  return `${head.join(' · ')}\n${values}`;
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : Number(x.toPrecision(4)).toString();
}

export function tensorBundle(t: TensorLike): MimeBundle {
  return { [TEXT_PLAIN]: tensorText(t) };
}

// --- tl.show

export interface ShowOptions {
  /** Images per row for a batch [n, h, w, c]; default 8. */
  columns?: number;
  /** Smallest side the image is enlarged to (whole factors, nearest neighbour); default 112 px. */
  minSize?: number;
}

/** Batches show at most this many images. */
const MAX_SHOWN = 64;

/** An image tensor ([h, w], [h, w, c] or a batch [n, h, w, c]) as a PNG in the cell's output. */
export function imageBundle(image: tf.Tensor, opts: ShowOptions = {}): MimeBundle {
  const what = 'tl.show()';
  const images: Pixels[] = [];
  if (image.rank === 4) {
    const n = Math.min(image.shape[0], MAX_SHOWN);
    if (n === 0) throw new Error(`${what}: the batch is empty ([${image.shape.join(', ')}])`);
    for (let i = 0; i < n; i++) {
      const one = tf.tidy(() => image.slice([i], [1]).squeeze([0]));
      try {
        images.push(tensorPixels(one, what));
      } finally {
        one.dispose();
      }
    }
  } else {
    images.push(tensorPixels(image, what));
  }
  const grid = images.length > 1 ? tile(images, opts.columns ?? 8) : images[0];
  const minSize = opts.minSize ?? 112;
  const factor = Math.min(8, Math.max(1, Math.ceil(minSize / Math.max(grid.height, grid.width))));
  const png = encodePng(upscale(grid, factor));
  const [h, w] = image.rank === 4 ? image.shape.slice(1, 3) : image.shape.slice(0, 2);
  const count = image.rank === 4 ? `${images.length}${image.shape[0] > images.length ? ` of ${image.shape[0]}` : ''} images` : 'image';
  return { 'image/png': png.toString('base64'), [TEXT_PLAIN]: `<${count}, ${h}×${w}, ${image.dtype}>` };
}

/** Shows an image tensor, a batch of them, or an image-folder data set with thumbnails per class. */
export function show(x: unknown, opts: ShowOptions = {}): void | Promise<void> {
  if (x instanceof tf.Tensor) {
    getOutputSink().display(imageBundle(x, opts));
    return;
  }
  if (isImageFolderData(x)) return imageFolderBundle(x).then((b) => void getOutputSink().display(b));
  throw new TypeError(`tl.show() takes an image tensor or an image-folder data set (tl.imageFolder), got ${x === null ? 'null' : typeof x}`);
}

// --- image folders

export function isImageFolderData(v: unknown): v is ImageFolderData {
  const d = v as ImageFolderData;
  return !!d && typeof d === 'object' && d.kind === 'images' && typeof d.dir === 'string' && Array.isArray(d.classes) && Array.isArray(d.files?.train);
}

const THUMBS_PER_CLASS = 6;
const THUMB_SIZE = 48;
/** Thumbnails are decoded for this many classes at most: a 1000-class folder stays quick to show. */
const MAX_CLASS_ROWS = 40;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A few files of each class, in the data set's order. */
function samplesByClass(data: ImageFolderData): Map<string, string[]> {
  const byClass = new Map<string, string[]>(data.classes.map((c) => [c, []]));
  for (const f of [...data.files.train, ...data.files.validation]) {
    const folder = path.relative(data.dir, f).split(path.sep)[0];
    const list = byClass.get(folder);
    if (list && list.length < THUMBS_PER_CLASS) list.push(f);
  }
  return byClass;
}

async function thumbnailStrip(files: string[]): Promise<string | undefined> {
  const thumbs: Pixels[] = [];
  for (const f of files) {
    try {
      const img = await decodeImage(f, { size: [THUMB_SIZE, THUMB_SIZE], channels: 3 });
      thumbs.push(img);
    } catch {
      // an unreadable file is already listed in the data set's skipped files
    }
  }
  return thumbs.length ? encodePng(tile(thumbs, thumbs.length)).toString('base64') : undefined;
}

/** The data set's text summary, plus an HTML table: class name (text), sample count, thumbnails. */
export async function imageFolderBundle(data: ImageFolderData): Promise<MimeBundle> {
  const own = (data as unknown as Record<symbol, (() => MimeBundle) | undefined>)[DISPLAY_SYMBOL];
  const text = own ? String(own.call(data)[TEXT_PLAIN] ?? '') : `${data.dir}: ${data.classes.length} classes`;
  const rows: string[] = [];
  const byClass = [...samplesByClass(data)];
  for (const [cls, files] of byClass.slice(0, MAX_CLASS_ROWS)) {
    const strip = await thumbnailStrip(files);
    const img = strip ? `<img alt="" src="data:image/png;base64,${strip}">` : '';
    rows.push(`<tr><td>${escapeHtml(cls)}</td><td style="text-align:right">${data.counts[cls] ?? 0}</td><td>${img}</td></tr>`);
  }
  if (byClass.length > MAX_CLASS_ROWS) rows.push(`<tr><td colspan="3">… ${byClass.length - MAX_CLASS_ROWS} more classes (all are listed in the text view)</td></tr>`);
  const caption = escapeHtml(text.split('\n')[0]);
  const html = `<table><caption style="text-align:left">${caption}</caption><thead><tr><th>class</th><th>images</th><th>samples</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  return { 'text/html': html, [TEXT_PLAIN]: text };
}
