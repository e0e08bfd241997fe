/**
 * tl.topLosses(): the samples the model gets most wrong (highest cross-entropy), worst first, as
 * fastai's `plot_top_losses` shows them: a gallery of thumbnails with the true and predicted class.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { markdownText } from '../../common/markdown';
import { TEXT_MARKDOWN, TEXT_PLAIN } from '../../common/mime';
import type { GalleryItem } from '../../common/shapes';
import { DISPLAY_SYMBOL, type MimeBundle } from '../../common/display';
import { betweenBatches, getOutputSink } from '../output';
import { getMeta, type Preprocessing } from '../models/meta';
import { asSplit, type Dataset, type ImageFolderData } from '../data';
import { classMapping } from '../evaluate';
import { declaredUnits, probabilities, type Classifier } from '../probabilities';
import { gallery, galleryBundle, inputPixels, percent, pngUri } from './gallery';

export interface TopLossesOptions {
  /** How many samples (default 9). */
  k?: number;
  /** The model's class names, in output order. Default: the model's metadata, else the data's classes. */
  classes?: string[];
  batchSize?: number;
  /** Show the gallery as an output (default true). */
  display?: boolean;
}

export interface TopLoss {
  /** The image file (absolute) for data from tl.imageFolder; otherwise the sample as the data names it (a file in the folder, a CSV line, a tensor row). */
  file: string;
  /** The true class. */
  label: string;
  /** The class the model gives the highest probability. */
  predicted: string;
  /** The probability of the predicted class. */
  probability: number;
  /** The probability of the true class. */
  trueProbability: number;
  /** Cross-entropy of the true class (probabilities clipped to [1e-7, 1 − 1e-7], as in evaluate). */
  loss: number;
  /** Position in the split it came from. */
  position: number;
}

const EPS = 1e-7;

interface Scored {
  position: number;
  truth: number;
  predicted: number;
  probability: number;
  trueProbability: number;
  loss: number;
}

/** Every sample's loss and prediction, one pass, nothing kept but numbers. */
async function score(model: Classifier, ds: Dataset, given: string[] | undefined, batchSize: number | undefined): Promise<{ scored: Scored[]; classes: string[] }> {
  const scored: Scored[] = [];
  let mapping: ReturnType<typeof classMapping> | undefined;
  const declared = declaredUnits(model);
  if (declared !== undefined) mapping = classMapping(model, ds, given, declared, 'topLosses()');
  for await (const batch of ds.batches({ batchSize, augment: false, shuffle: false })) {
    let probs: Float32Array;
    let k: number;
    try {
      const p = await probabilities(model, batch.xs);
      k = p.shape[1];
      probs = (await p.data()) as Float32Array;
      p.dispose();
    } finally {
      tf.dispose([batch.xs, batch.ys]);
    }
    mapping ??= classMapping(model, ds, given, k, 'topLosses()');
    batch.indices.forEach((position, r) => {
      const row = probs.subarray(r * k, (r + 1) * k);
      const truth = (mapping as { toModel: number[] }).toModel[ds.labels[position]];
      const sum = row.reduce((a, b) => a + b, 0);
      let predicted = 0;
      for (let j = 1; j < k; j++) if (row[j] > row[predicted]) predicted = j;
      const trueProbability = sum > 0 ? row[truth] / sum : 0;
      const loss = -Math.log(Math.min(1 - EPS, Math.max(EPS, trueProbability)));
      scored.push({ position, truth, predicted, probability: sum > 0 ? row[predicted] / sum : 0, trueProbability, loss });
    });
    await betweenBatches();
  }
  if (!mapping) throw new Error(`topLosses(): ${ds.name} has no samples that could be read.`);
  return { scored, classes: mapping.classes };
}

/** Thumbnails of the samples at `positions`, when the samples are images. */
async function thumbnails(ds: Dataset, positions: number[], pre: Preprocessing | undefined): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const shape = ds.elementShape;
  if (shape.length !== 3 || (shape[2] !== 1 && shape[2] !== 3) || positions.length === 0) return out;
  for await (const batch of ds.batches({ positions, augment: false, shuffle: false })) {
    try {
      batch.indices.forEach((position, r) => {
        const x = tf.tidy(() => batch.xs.slice([r], [1]).squeeze([0]) as tf.Tensor3D);
        try {
          out.set(position, pngUri(inputPixels(x, pre)));
        } finally {
          x.dispose();
        }
      });
    } finally {
      tf.dispose([batch.xs, batch.ys]);
    }
  }
  return out;
}

function formatTable(rows: TopLoss[], names: string[], escape: (s: string) => string): string[] {
  return rows.map((r, i) => `| ${i + 1} | ${escape(names[i])} | ${escape(r.label)} | ${escape(r.predicted)} | ${percent(r.probability)} | ${r.loss.toFixed(3)} |`);
}

/** The gallery (when `thumbs` are given: for image data, a picture each) with Markdown and text fallbacks. */
function bundle(rows: TopLoss[], names: string[], thumbs: (string | undefined)[] | undefined, title: string): MimeBundle {
  const items: GalleryItem[] = rows.map((r, i) => ({
    ...(thumbs?.[i] ? { image: thumbs[i] } : {}),
    alt: `${names[i]}: true ${r.label}, predicted ${r.predicted}`,
    lines: [names[i], `true: ${r.label}`, `predicted: ${r.predicted} (${percent(r.probability)})`, `loss ${r.loss.toFixed(3)}`],
    flag: r.label !== r.predicted,
  }));
  const head = ['| # | sample | true | predicted | probability | loss |', '|---|---|---|---|---|---|'];
  const markdown = [`**${markdownText(title)}**`, '', ...head, ...formatTable(rows, names, markdownText)].join('\n');
  const plain = [title, ...rows.map((r, i) => `${String(i + 1).padStart(3)}. ${names[i]}: true ${r.label}, predicted ${r.predicted} (${percent(r.probability)}), loss ${r.loss.toFixed(3)}`)].join('\n');
  if (!thumbs) return { [TEXT_MARKDOWN]: markdown, [TEXT_PLAIN]: plain };
  return galleryBundle(gallery(title, items), markdown, plain);
}

/**
 * The `k` samples with the highest loss, worst first, from the validation split when the data has
 * one (else all of it; never augmented). Shows them as a gallery (thumbnails for image data).
 * Works with any model that gives class probabilities: layers, graph or an exported model.onnx.
 */
export async function topLosses(model: Classifier, data: unknown, opts: TopLossesOptions = {}): Promise<TopLoss[]> {
  const k = opts.k ?? 9;
  if (!(Number.isInteger(k) && k > 0)) throw new Error(`topLosses(): k must be a positive whole number, got ${opts.k}.`);
  const split = asSplit(data, 'topLosses()');
  const ds = split.validation ?? split.train;
  const { scored, classes } = await score(model, ds, opts.classes, opts.batchSize);
  const worst = scored.sort((a, b) => b.loss - a.loss || a.position - b.position).slice(0, k);
  // An image folder (not one of its splits, which do not know the folder) gives absolute file paths.
  const maybe = data as Partial<ImageFolderData>;
  const folder = maybe.kind === 'images' && typeof maybe.dir === 'string' ? (data as ImageFolderData) : undefined;
  const names = worst.map((s) => ds.sampleName(s.position));
  const rows: TopLoss[] = worst.map((s, i) => ({
    file: folder ? path.join(folder.dir, names[i]) : names[i],
    label: classes[s.truth],
    predicted: classes[s.predicted],
    probability: s.probability,
    trueProbability: s.trueProbability,
    loss: s.loss,
    position: s.position,
  }));
  const title = `Top ${rows.length} losses on ${ds.name}`;
  // As a cell's last value: the table when the gallery was not shown, else one line.
  const summary = `${title}: ${rows.filter((r) => r.label !== r.predicted).length} of ${rows.length} misclassified`;
  const show = (): MimeBundle => (opts.display === false ? bundle(rows, names, undefined, title) : { [TEXT_PLAIN]: summary });
  if (opts.display !== false) {
    const pre = folder?.preprocessing ?? getMeta(model)?.preprocessing;
    const thumbs = await thumbnails(ds, worst.map((s) => s.position), pre);
    getOutputSink().display(bundle(rows, names, worst.map((s) => thumbs.get(s.position)), title));
  }
  Object.defineProperty(rows, DISPLAY_SYMBOL, { value: show, enumerable: false });
  return rows;
}
