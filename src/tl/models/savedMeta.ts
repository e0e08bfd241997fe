/** Metadata read from model files (untrusted: checked field by field), and what the model itself shows. */
import * as path from 'node:path';
import { imageSizeProblem, type ModelMeta, type Preprocessing } from './meta';
import { readModelFile } from './safety/weightFiles';
import { META_KEY, META_FILE, parseJson, type ModelJSON } from './files';
import type { AnyModel } from './kinds';
import { parseTextInfo } from '../text/saved';

export function parseMeta(raw: unknown, where: string): Partial<ModelMeta> {
  if (raw == null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${where}: metadata must be a JSON object.`);
  const r = raw as Record<string, unknown>;
  const out: Partial<ModelMeta> = {};
  if (r.name !== undefined) {
    if (typeof r.name !== 'string') throw new Error(`${where}: "name" must be a string.`);
    out.name = r.name;
  }
  if (r.classes !== undefined) {
    if (!Array.isArray(r.classes) || !r.classes.every((c) => typeof c === 'string')) {
      throw new Error(`${where}: "classes" must be an array of strings.`);
    }
    out.classes = [...(r.classes as string[])];
  }
  if (r.text !== undefined) out.text = parseTextInfo(r.text, where);
  if (r.featureLayer !== undefined) {
    if (typeof r.featureLayer !== 'string') throw new Error(`${where}: "featureLayer" must be a layer name.`);
    out.featureLayer = r.featureLayer;
  }
  if (r.inputSize !== undefined) {
    const s = r.inputSize;
    const problem = imageSizeProblem(s);
    if (problem) throw new Error(`${where}: "inputSize" ${problem}.`);
    out.inputSize = [(s as number[])[0], (s as number[])[1]];
  }
  if (r.preprocessing !== undefined) {
    const p = r.preprocessing as Record<string, unknown> | null;
    if (
      typeof p !== 'object' ||
      p === null ||
      typeof p.scale !== 'number' ||
      !Number.isFinite(p.scale) ||
      typeof p.offset !== 'number' ||
      !Number.isFinite(p.offset) ||
      (p.channels !== 1 && p.channels !== 3)
    ) {
      throw new Error(`${where}: "preprocessing" must be {scale: number, offset: number, channels: 1 | 3}.`);
    }
    out.preprocessing = { scale: p.scale, offset: p.offset, channels: p.channels } as Preprocessing;
  }
  return out;
}

const MAX_META_BYTES = 1024 * 1024;

/** Metadata saved with a model: transfer-lab.json beside model.json wins over userDefinedMetadata. */
export async function readSavedMeta(modelJsonPath: string, json: ModelJSON): Promise<Partial<ModelMeta>> {
  // model.json's own copy first: it is written in the same atomic step as the model it describes.
  // transfer-lab.json beside it serves models saved by other tools that only wrote that file.
  const udm = (json as { userDefinedMetadata?: Record<string, unknown> }).userDefinedMetadata;
  if (udm?.[META_KEY] != null) return parseMeta(udm[META_KEY], `${modelJsonPath} (userDefinedMetadata.${META_KEY})`);
  const side = path.join(path.dirname(modelJsonPath), META_FILE);
  // Read like a weight file: a link to a file outside the folder must not put that file's text in an error.
  const text = await readModelFile(side, MAX_META_BYTES, undefined);
  return text === undefined ? {} : parseMeta(parseJson(text, side), side);
}

/** [height, width] of a 4-D image input, when the model has exactly such an input. */
export function inferInputSize(model: AnyModel): [number, number] | undefined {
  const shape = model.inputs[0]?.shape;
  if (shape && shape.length === 4 && typeof shape[1] === 'number' && typeof shape[2] === 'number' && shape[1] > 0 && shape[2] > 0) {
    const size: [number, number] = [shape[1], shape[2]];
    const problem = imageSizeProblem(size);
    if (problem) throw new Error(`the model's image input ${problem}.`);
    return size;
  }
  return undefined;
}
