/**
 * Labelled texts as a Source. Texts are read once, when the data is made (they are small); they
 * become numbers only once bound to a text model's encoding (bindText), in the fetch step, which
 * may run ahead of training. Content keys hash the text itself, so the embedding cache reuses a
 * text's vector wherever it appears.
 */
import * as crypto from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import type { TextEncoding } from '../text/encoding';
import type { Fetched, Source } from './dataset';
import type { ResolvedAugment, SkippedFile } from './types';

export class TextSource implements Source {
  readonly kind = 'text' as const;
  private keys?: string[];

  constructor(
    readonly name: string,
    readonly classes: readonly string[],
    readonly labels: readonly number[],
    readonly texts: readonly string[],
    /** For messages: a file relative to the folder, or a CSV line. */
    private readonly names: readonly string[],
    readonly skipped: SkippedFile[],
    readonly encoding?: TextEncoding,
  ) {}

  get elementShape(): readonly number[] {
    return this.encoding?.elementShape ?? [];
  }

  get inputKey(): string {
    return this.encoding ? `text:${this.encoding.key}` : 'text';
  }

  /** The same texts, turned into numbers by `encoding`. */
  withEncoding(encoding: TextEncoding): TextSource {
    const s = new TextSource(this.name, this.classes, this.labels, this.texts, this.names, this.skipped, encoding);
    s.keys = this.keys;
    return s;
  }

  async fetch(indices: number[]): Promise<Fetched> {
    if (!this.encoding) {
      throw new Error(`${this.name} holds texts: train, evaluate or predict it with a text model (tl.withHead on a text base from tl.load: word vectors or an ONNX sentence encoder).`);
    }
    return { kept: indices, payload: await this.encoding.encode(indices.map((i) => this.texts[i])) };
  }

  toTensor(f: Fetched, augment: ResolvedAugment | undefined): tf.Tensor {
    if (augment) throw new Error('Augmentation applies to image folders only.');
    return tf.tensor(f.payload as Float32Array, [f.kept.length, ...this.elementShape], 'float32');
  }

  async contentKey(indices: number[]): Promise<string[]> {
    this.keys ??= this.texts.map((t) => crypto.createHash('sha256').update('text\0').update(t, 'utf8').digest('hex').slice(0, 32));
    const keys = this.keys;
    return indices.map((i) => keys[i]);
  }

  sampleName(i: number): string {
    return this.names[i];
  }

  failure(): undefined {
    return undefined;
  }

  async check(): Promise<void> {}
}
