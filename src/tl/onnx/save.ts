/**
 * A whole fine-tuned layers model as one `model.onnx`: the same converter that runs frozen bases in
 * ONNX Runtime (convert.ts), asked to convert every layer or refuse, with the class names and pixel
 * preprocessing in the file's metadata_props so that ONNX Runtime users (and tl.load) need nothing
 * beside it.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ModelMeta } from '../models/meta';
import { META_KEY } from '../models/files';
import { writeFileAtomic } from '../util/atomic';
import { convertToOnnx } from './convert';

export const ONNX_MODEL_FILE = 'model.onnx';

/** What the file says about its input and output, for people who open it in Netron or onnx.load. */
function docString(meta: ModelMeta): string {
  const p = meta.preprocessing;
  const pixels = p ? `pixels in 0..255 times ${p.scale} plus ${p.offset}, ${p.channels} channel(s)` : 'as the TF.js model took it';
  const size = meta.inputSize ? `${meta.inputSize[0]}×${meta.inputSize[1]} ` : '';
  const out = meta.classes ? `class probabilities, in the order of metadata "classes"` : 'as the TF.js model gave it';
  return `Exported by Transfer Lab from '${meta.name}'. Input: NHWC float32 ${size}images, ${pixels}. Output: ${out}.`;
}

/** The metadata_props of an exported model: our metadata as JSON under META_KEY, and the classes alone for other tools. */
export function onnxMetadata(meta: ModelMeta): Record<string, string> {
  const props: Record<string, string> = { [META_KEY]: JSON.stringify({ version: 1, ...meta, format: 'onnx' }) };
  if (meta.classes) props.classes = JSON.stringify(meta.classes);
  if (meta.preprocessing) props.preprocessing = JSON.stringify(meta.preprocessing);
  return props;
}

export interface OnnxSaveResult {
  file: string;
  bytes: number;
  nodes: number;
}

/**
 * Writes `model` (all of it) to `dir`/model.onnx. Refuses, naming the layer, when a layer does not
 * convert, rather than writing part of the model.
 */
export async function saveOnnx(model: tf.LayersModel, dir: string, meta: ModelMeta): Promise<OnnxSaveResult> {
  if (!(model instanceof tf.LayersModel)) {
    throw new Error("save(model, dir, { format: 'onnx' }): only TF.js layers models export to ONNX; a graph model has no layers to convert (convert the original with tf2onnx).");
  }
  if (model.outputs.length !== 1) throw new Error(`save(model, dir, { format: 'onnx' }): the model has ${model.outputs.length} outputs; only single-output models export.`);
  let c;
  try {
    c = convertToOnnx(model, { onUnsupported: 'error', metadata: onnxMetadata(meta), docString: docString(meta) });
  } catch (e) {
    throw new Error(`save(model, dir, { format: 'onnx' }): ${(e as Error).message} Nothing was written.`);
  }
  if (!c.onnx || c.tail) throw new Error(`save(model, dir, { format: 'onnx' }): only part of the model converted (up to '${c.stop?.layer}'); nothing was written.`);
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, ONNX_MODEL_FILE);
  await writeFileAtomic(file, c.onnx);
  return { file, bytes: c.onnx.length, nodes: c.onnxNodes };
}
