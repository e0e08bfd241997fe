/**
 * tl.explain(): Grad-CAM for one image, returned as a [h, w] heatmap and shown over the image.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { markdownText } from '../../common/markdown';
import { TEXT_PLAIN } from '../../common/mime';
import { DISPLAY_SYMBOL, type MimeBundle } from '../../common/display';
import { getOutputSink } from '../output';
import { getMeta } from '../models/meta';
import { isFeatureExtractor } from '../onnx/extractor';
import { decodeImage } from '../data/decode';
import { imageInput } from '../evaluate';
import { camSplit, gradCam } from './gradcam';
import { gallery, galleryBundle, inputPixels, percent, pngUri } from './gallery';
import { overlayHeatmap } from './heatmap';

export interface ExplainOptions {
  /** The class to explain: its index or name. Default: the predicted class. */
  class?: number | string;
  /** The layer whose feature map is used. Default: the last spatial layer. */
  layer?: string;
  /** Show the heatmap over the image as an output (default true). */
  display?: boolean;
}

export interface Explanation {
  /** [h, w] at the feature map's resolution, in [0, 1]: where the evidence for the class lies. */
  heatmap: number[][];
  /** Index of the class explained. */
  class: number;
  label: string;
  /** The model's probability for that class. */
  probability: number;
  /** The layer whose feature map was used. */
  layer: string;
}

function refuse(model: unknown): never {
  if (model instanceof tf.GraphModel) throw new Error('explain(): this is a TF.js graph model; Grad-CAM takes gradients through a layers model\'s layers, and a graph model has none. Load the base as a layers model (model.json with "format": "layers-model").');
  if (isFeatureExtractor(model)) throw new Error('explain(): this model runs in ONNX Runtime, which gives no gradients; Grad-CAM needs a TF.js layers model (the model before tl.save(..., { format: \'onnx\' }), or a TF.js base).');
  throw new Error('explain(model, image): model must be a TF.js layers model.');
}

/** One image as model input [1, h, w, c], prepared as tl.predict prepares it. */
async function readImage(model: tf.LayersModel, image: string | tf.Tensor): Promise<tf.Tensor4D> {
  const img = imageInput(model);
  if (!img) throw new Error(`explain(): model '${model.name}' does not take images (its input is [${model.inputs[0].shape.join(', ')}]).`);
  const { size, channels, preprocessing: p } = img;
  let pixels: tf.Tensor3D;
  if (typeof image === 'string') {
    const d = await decodeImage(image, { size, channels }).catch((e: Error) => Promise.reject(new Error(`explain(): cannot read ${image}: ${e.message}`)));
    pixels = tf.tensor3d(d.data, [size[0], size[1], channels], 'float32');
  } else if (image instanceof tf.Tensor && image.rank === 3) {
    pixels = tf.tidy(() => tf.image.resizeBilinear(image.toFloat() as tf.Tensor3D, size));
  } else {
    throw new Error('explain(model, image): image must be a file path or a [height, width, channels] tensor of pixels (0–255).');
  }
  const x = tf.tidy(() => tf.add(tf.mul(pixels, p.scale), p.offset).expandDims(0) as tf.Tensor4D);
  pixels.dispose();
  return x;
}

function classIndex(want: number | string | undefined, classes: string[] | undefined): number | undefined {
  if (want === undefined || typeof want === 'number') return want;
  const i = classes?.indexOf(want) ?? -1;
  if (i < 0) throw new Error(`explain(): '${want}' is not one of the model's classes${classes ? ` (${classes.join(', ')})` : ' (the model has no class names: give an index)'}.`);
  return i;
}

function show(e: Explanation, x: tf.Tensor4D, model: tf.LayersModel, name: string): void {
  const img = tf.tidy(() => x.squeeze([0]) as tf.Tensor3D);
  const pixels = inputPixels(img, getMeta(model)?.preprocessing, 256);
  img.dispose();
  const overlay = pngUri(overlayHeatmap(pixels, e.heatmap));
  const caption = `${e.label} (${percent(e.probability)})`;
  const title = `Grad-CAM: ${name}`;
  const items = [
    { image: pngUri(pixels), alt: `${name}`, lines: ['image'] },
    { image: overlay, alt: `Grad-CAM heatmap for ${e.label} over ${name}`, lines: [`where the model sees ${caption}`, `at layer ${e.layer}`] },
  ];
  const markdown = `**${markdownText(title)}**: ${markdownText(caption)} at layer ${markdownText(e.layer)}\n\n![Grad-CAM heatmap](${overlay})`;
  getOutputSink().display(galleryBundle(gallery(title, items), markdown, `${title}: ${caption}, heatmap ${e.heatmap.length}×${e.heatmap[0]?.length ?? 0} at layer ${e.layer}`));
}

/**
 * Grad-CAM at the last spatial layer (or `opts.layer`) for `opts.class` (default: the predicted
 * class). `image` is a file or a [h, w, c] tensor of pixels 0–255, prepared like predict's.
 */
export async function explain(model: tf.LayersModel, image: string | tf.Tensor, opts: ExplainOptions = {}): Promise<Explanation> {
  if (!(model instanceof tf.LayersModel)) refuse(model);
  const classes = getMeta(model)?.classes;
  const split = camSplit(model, opts.layer);
  const x = await readImage(model, image);
  try {
    const cam = gradCam(split, x, classIndex(opts.class, classes));
    const probs = tf.tidy(() => (model.predict(x) as tf.Tensor).reshape([-1]).dataSync());
    const e: Explanation = { heatmap: cam.heatmap, class: cam.cls, label: classes?.[cam.cls] ?? String(cam.cls), probability: probs.length === 1 ? (cam.cls === 1 ? probs[0] : 1 - probs[0]) : probs[cam.cls], layer: split.layer };
    const name = typeof image === 'string' ? path.basename(image) : 'image';
    if (opts.display !== false) show(e, x, model, name);
    const line = `Grad-CAM for ${e.label} (${percent(e.probability)}) at ${e.layer}: ${e.heatmap.length}×${e.heatmap[0]?.length ?? 0}`;
    Object.defineProperty(e, DISPLAY_SYMBOL, { value: (): MimeBundle => ({ [TEXT_PLAIN]: line }), enumerable: false });
    return e;
  } finally {
    x.dispose();
  }
}
