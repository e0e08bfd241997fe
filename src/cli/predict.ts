/**
 * `transfer-lab predict <exported model dir> <image...>`: the top classes of each image, using the
 * model's saved class names, input size and preprocessing. Runs in a kernel process, so it picks
 * the same backend a notebook would.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { KernelClient } from '../client/kernelClient';
import type { BackendName } from '../common/protocol';
import { terminalName, terminalText } from '../common/terminal';
import { backendNotice } from './run';

export interface PredictCliOptions {
  modelDir: string;
  images: string[];
  topK: number;
  backend?: BackendName;
  kernelScript: string;
}

export interface ImagePrediction {
  image: string;
  top: { label: string; probability: number }[];
}

export async function predictImages(opts: PredictCliOptions): Promise<ImagePrediction[]> {
  const modelDir = path.resolve(opts.modelDir);
  if (!existsSync(modelDir)) throw new Error(`no such model folder: ${terminalName(modelDir)}`);
  // A text model's arguments are the texts themselves.
  const text = isTextModel(modelDir);
  const images = text ? opts.images : opts.images.map((i) => path.resolve(i));
  if (!text) for (const i of images) if (!existsSync(i)) throw new Error(`no such image: ${terminalName(i)}`);
  const client = new KernelClient({
    kernelScript: opts.kernelScript,
    notebookDir: process.cwd(),
    workspaceFolders: [process.cwd()],
    backend: opts.backend ?? 'auto',
    backendRequestedBy: opts.backend ? 'command line' : 'auto',
    tfjsNodeGpuPaths: [process.cwd()],
  });
  try {
    const device = await client.start().catch((e: Error) => Promise.reject(new Error(`the kernel did not start: ${e.message}`)));
    const notice = backendNotice(device, 'the model');
    if (notice) process.stderr.write(`transfer-lab: ${notice}\n`);
    let found: ImagePrediction[] | undefined;
    // The predictions come back as a JSON output, so whatever else the model code prints cannot corrupt them.
    const code = [
      `const __model = await tl.load(${JSON.stringify(modelDir)});`,
      `const __images = ${JSON.stringify(images)};`,
      `const __preds = await tl.predict(__model, __images, { topK: ${Math.max(1, Math.floor(opts.topK))} });`,
      `await __model.dispose();`,
      `display({ 'application/json': __preds.map((top, i) => ({ image: __images[i], top })) });`,
    ].join('\n');
    const result = await client.execute(code, 'javascript', 'predict', {
      onStream: (_name, text) => process.stderr.write(terminalText(text, { keepColors: true })),
      onDisplay: (_id, bundle) => {
        if (bundle['application/json']) found = bundle['application/json'] as ImagePrediction[];
      },
    });
    if (result.status !== 'ok') throw new Error(`${result.error.ename}: ${result.error.evalue}`);
    if (!found) throw new Error('the kernel returned no predictions');
    return found;
  } finally {
    await client.shutdown();
  }
}

/** Whether the saved model's metadata has a tokenizer (a small file; anything unreadable means no). */
function isTextModel(modelDir: string): boolean {
  try {
    const file = path.join(modelDir, 'transfer-lab.json');
    if (statSync(file).size > 1024 * 1024) return false;
    const meta = JSON.parse(readFileSync(file, 'utf8')) as { text?: unknown };
    return typeof meta.text === 'object' && meta.text !== null;
  } catch {
    return false;
  }
}

/** Class names come from the model and file names from the disk: their control characters are shown escaped. */
export function formatPredictions(preds: ImagePrediction[]): string {
  const line = (t: { label: string; probability: number }, i: number) => `  ${i + 1}. ${terminalName(t.label).padEnd(12)} ${(100 * t.probability).toFixed(1).padStart(5)}%`;
  return preds.map((p) => [terminalName(p.image), ...p.top.map(line)].join('\n')).join('\n');
}
