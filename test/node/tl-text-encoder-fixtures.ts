/**
 * The tiny BERT-style encoder of test/fixtures/tiny-encoder (made by scripts/make-tiny-encoder.py with
 * PyTorch), copies of it to spoil, and small ONNX graphs of other shapes built here. No network.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { IrGraph, encodeModel } from '../../src/tl/onnx/ir';
import { tmpDir } from './tl-fixtures';

export const ENCODER_DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'tiny-encoder');

export interface Reference {
  config: { hidden: number; vocab_size: number; max_positions: number };
  texts: { text: string; tokens: string[]; ids: number[] }[];
  batch: { input_ids: number[][]; attention_mask: number[][] };
  pooled: Record<'mean' | 'cls' | 'max', number[][]>;
}

export function reference(): Reference {
  return JSON.parse(fs.readFileSync(path.join(ENCODER_DIR, 'reference.json'), 'utf8')) as Reference;
}

/** A copy of the encoder folder (model.onnx, tokenizer.json), with `edit` applied to the tokenizer's JSON. */
export function encoderCopy(edit?: (json: Record<string, unknown>) => unknown): string {
  const dir = path.join(tmpDir('encoder'), 'encoder');
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(ENCODER_DIR, 'model.onnx'), path.join(dir, 'model.onnx'));
  if (!edit) {
    fs.copyFileSync(path.join(ENCODER_DIR, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    return dir;
  }
  const out = edit(JSON.parse(fs.readFileSync(path.join(ENCODER_DIR, 'tokenizer.json'), 'utf8')) as Record<string, unknown>);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), typeof out === 'string' ? out : JSON.stringify(out));
  return dir;
}

/** Sets graph inputs named in `ints` to int64 (the IR builder makes float inputs). */
function withIntInputs(bytes: Uint8Array, ints: string[], type: onnx.TensorProto.DataType): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  for (const i of m.graph?.input ?? []) if (ints.includes(i.name ?? '') && i.type?.tensorType) i.type.tensorType.elemType = type;
  return onnx.ModelProto.encode(m).finish();
}

/**
 * A folder with the fixture's tokenizer.json and a small graph: 'pooled' averages a 4-wide embedding
 * table into [batch, 4] itself ('pooled-int32': taking int32 ids); 'rank4' gives [batch, seq, 2, 2]; 'pixels' takes an image-like input.
 */
export function otherGraph(kind: 'pooled' | 'pooled-int32' | 'rank4' | 'pixels'): string {
  const dir = encoderCopy();
  const g = new IrGraph(`test_${kind}`);
  let bytes: Uint8Array;
  if (kind === 'pixels') {
    const x = g.addInput('pixel_values', ['N', 3]);
    g.addOutput(g.one('Relu', [x], 'relu'), 'out', ['N', 3]);
    bytes = encodeModel(g);
  } else {
    const ids = g.addInput('input_ids', ['N', 'S']);
    g.addInput('attention_mask', ['N', 'S']);
    const rows = reference().config.vocab_size;
    const table = g.floats('table', [rows, 4], Float32Array.from({ length: rows * 4 }, (_, i) => Math.sin(i)));
    const emb = g.one('Gather', [table, ids], 'emb');
    if (kind !== 'rank4') g.addOutput(g.one('ReduceMean', [emb], 'mean', { axes: { ints: [1] }, keepdims: { i: 0 } }), 'sentence_embedding', ['N', 4]);
    else g.addOutput(g.one('Reshape', [emb, g.int64s('shape', [0, 0, 2, 2])], 'r4'), 'out', ['N', 'S', 2, 2]);
    const type = kind === 'pooled-int32' ? onnx.TensorProto.DataType.INT32 : onnx.TensorProto.DataType.INT64;
    bytes = withIntInputs(encodeModel(g), ['input_ids', 'attention_mask'], type);
  }
  fs.writeFileSync(path.join(dir, 'model.onnx'), bytes);
  return dir;
}
