/**
 * Which files make an ONNX sentence encoder: model.onnx with tokenizer.json beside it, or their
 * folder. Only node:fs here, so the wizard (extension host) can check a folder without loading
 * ONNX Runtime or the tokenizer library.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const TOKENIZER_FILE = 'tokenizer.json';

/** model.onnx + tokenizer.json when `source` names an encoder folder or an .onnx with tokenizer.json beside it. */
export function sentenceEncoderFiles(source: string): { onnx: string; tokenizer: string } | undefined {
  const p = path.resolve(source);
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return undefined;
  }
  const onnx = st.isDirectory() ? path.join(p, 'model.onnx') : /\.onnx$/i.test(p) ? p : undefined;
  if (!onnx || (st.isDirectory() && fs.existsSync(path.join(p, 'model.json')))) return undefined;
  const tokenizer = path.join(path.dirname(onnx), TOKENIZER_FILE);
  return fs.existsSync(onnx) && fs.existsSync(tokenizer) ? { onnx, tokenizer } : undefined;
}
