/** Small word-vector files and text folders for the tl-text tests. Nothing here touches the network. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { tmpDir } from './tl-fixtures';

/** Two topics, each with its own direction in a 4-d space; "the" and "and" sit in the middle. */
export const TOPIC_VECTORS: Record<string, number[]> = {
  the: [0.1, 0.1, 0, 0],
  and: [0.1, -0.1, 0, 0],
  cat: [1, 0, 0.2, 0],
  dog: [0.9, 0.1, 0.1, 0],
  kitten: [0.95, 0, 0.3, 0],
  puppy: [0.85, 0.2, 0, 0],
  pet: [0.8, 0, 0, 0.1],
  code: [0, 1, 0, 0.2],
  compiler: [0.1, 0.9, 0, 0],
  program: [0, 0.95, 0.1, 0],
  bug: [0.05, 0.85, 0.2, 0],
  server: [0, 0.8, 0, 0.3],
};

export function gloveText(vectors: Record<string, number[]> = TOPIC_VECTORS): string {
  return Object.entries(vectors).map(([w, v]) => `${w} ${v.join(' ')}`).join('\n') + '\n';
}

export function word2vecText(vectors: Record<string, number[]>): string {
  const dim = Object.values(vectors)[0].length;
  return `${Object.keys(vectors).length} ${dim}\n${gloveText(vectors)}`;
}

/** Writes `text` (gzipped when the name ends in .gz) into a fresh folder; returns the path. */
export function vectorFile(name: string, text: string): string {
  const file = path.join(tmpDir('text'), name);
  fs.writeFileSync(file, name.endsWith('.gz') ? zlib.gzipSync(text) : text);
  return file;
}

const PET = ['the cat and the dog', 'a kitten and a puppy', 'my pet dog', 'the puppy and the kitten', 'cat cat pet', 'dog and pet', 'the kitten', 'puppy pet'];
const CODE = ['the compiler and the code', 'a bug in the program', 'server code', 'the program and the compiler', 'bug bug code', 'server and program', 'the compiler', 'code bug'];

/** dir/pets/*.txt and dir/code/*.txt, plus the given extra files (relative path → contents). */
export function topicFolder(extra: Record<string, string | Buffer> = {}): string {
  const dir = tmpDir('textfolder');
  for (const [cls, texts] of [['pets', PET], ['code', CODE]] as const) {
    fs.mkdirSync(path.join(dir, cls));
    texts.forEach((t, i) => fs.writeFileSync(path.join(dir, cls, `${i}.txt`), t));
  }
  for (const [rel, body] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), body);
  }
  return dir;
}

/** Sets fields of a saved text model's text metadata (model.json, userDefinedMetadata.transferLab.text), as a hostile edit would. */
export function patchSavedText(dir: string, fields: Record<string, unknown>): void {
  const file = path.join(dir, 'model.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  Object.assign(json.userDefinedMetadata.transferLab.text, fields);
  fs.writeFileSync(file, JSON.stringify(json));
}
