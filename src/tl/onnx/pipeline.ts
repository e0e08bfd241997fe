/**
 * Image files → preprocessed NHWC float32 batches, decoded ahead of the model so that decoding the
 * next batch overlaps the model running on the current one.
 *
 * onnxruntime-node runs a session synchronously on the JavaScript thread that calls it, so decoding
 * must not need that thread: it runs in worker threads (each using sharp on libuv's pool, or the
 * pure-JavaScript decoder).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { resolveDecoder, type DecoderChoice } from '../data/decode';
import type { Preprocessing } from '../models/meta';
import { decodeInto, type DecodeJob, type DecodeResult } from './decodeWorker';

export interface DecodePoolOptions {
  /**
   * Worker threads; 0 decodes from this thread. Default: one per core. sharp alone decodes faster
   * from this thread (libvips works on libuv's pool), but next to a model that runs synchronously on
   * this thread (ONNX Runtime, TF.js WASM) the workers won end to end in the benchmark: the
   * float conversion and sharp's callbacks no longer wait for the model.
   */
  workers?: number;
  decoder?: DecoderChoice;
}

export interface ImageBatch {
  /** NHWC float32, `files.length` rows (a row that failed to decode is all zeros). */
  data: Float32Array;
  shape: [number, number, number, number];
  files: string[];
  /** Files that failed, with the reason. */
  failed: { file: string; error: string }[];
}

/**
 * Where the compiled worker lives: next to this file when run from tsc output
 * (out/src/tl/onnx/decodeWorker.js), or as dist/decode-worker.js next to a bundle.
 */
export function findWorkerScript(): string | undefined {
  const env = process.env.TRANSFER_LAB_DECODE_WORKER;
  const candidates = [env, path.join(__dirname, 'decodeWorker.js'), path.join(__dirname, 'decode-worker.js')].filter((c): c is string => !!c);
  return candidates.find((c) => fs.existsSync(c));
}

export class DecodePool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: DecodeResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private closed = false;
  private broken: Error | undefined;
  private readonly busy: number[] = [];
  /** Why there are fewer workers than asked for, if so. */
  readonly note: string | undefined;

  constructor(private readonly opts: DecodePoolOptions = {}) {
    const want = opts.workers ?? (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
    // A forced decoder that cannot load fails here, not in a worker.
    resolveDecoder(opts.decoder ?? 'auto');
    const script = want > 0 ? findWorkerScript() : undefined;
    if (want > 0 && !script) this.note = `decode worker script not found next to ${__dirname}; decoding on the main thread`;
    if (!script) return;
    for (let i = 0; i < want; i++) {
      const w = new Worker(script, { workerData: { transferLabDecodeWorker: true } });
      w.on('message', (r: DecodeResult) => {
        const p = this.pending.get(r.id);
        this.pending.delete(r.id);
        // An idle pool must not keep the process alive; a busy one must.
        if (--this.busy[i] === 0) w.unref();
        p?.resolve(r);
      });
      w.on('error', (e) => {
        this.broken = new Error(`decode worker failed: ${e.message}`);
        for (const [, p] of this.pending) p.reject(this.broken);
        this.pending.clear();
      });
      w.unref();
      this.workers.push(w);
      this.busy.push(0);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Decodes `files` into one batch, split evenly over the workers. */
  async decode(files: string[], size: [number, number], pre: Preprocessing): Promise<ImageBatch> {
    if (this.closed) throw new Error('DecodePool is closed.');
    if (this.broken) throw this.broken;
    const [h, w] = size;
    const c = pre.channels;
    const job = (part: string[]): DecodeJob => ({ id: this.nextId++, files: part, size, channels: c, scale: pre.scale, offset: pre.offset, decoder: this.opts.decoder ?? 'auto' });
    let results: DecodeResult[];
    if (this.workers.length === 0) {
      results = [await decodeInto(job(files))];
    } else {
      const k = Math.min(this.workers.length, files.length) || 1;
      const per = Math.ceil(files.length / k);
      results = await Promise.all(
        Array.from({ length: k }, (_, i) => {
          const j = job(files.slice(i * per, (i + 1) * per));
          return new Promise<DecodeResult>((resolve, reject) => {
            this.pending.set(j.id, { resolve, reject });
            if (this.busy[i]++ === 0) this.workers[i].ref();
            this.workers[i].postMessage(j);
          });
        }),
      );
    }
    const row = h * w * c;
    const data = results.length === 1 ? results[0].data : new Float32Array(files.length * row);
    if (results.length > 1) {
      let o = 0;
      for (const r of results) {
        data.set(r.data, o);
        o += r.data.length;
      }
    }
    const errors = results.flatMap((r) => r.errors);
    const failed = files.flatMap((file, i) => (errors[i] ? [{ file, error: errors[i] as string }] : []));
    return { data, shape: [files.length, h, w, c], files, failed };
  }

  /** Batches of `files` in order, decoding up to `prefetch` batches ahead of the consumer. */
  async *batches(files: string[], batchSize: number, size: [number, number], pre: Preprocessing, prefetch = 1): AsyncGenerator<ImageBatch> {
    if (!(batchSize > 0)) throw new Error(`batchSize must be positive, got ${batchSize}.`);
    const starts: number[] = [];
    for (let s = 0; s < files.length; s += batchSize) starts.push(s);
    const queue: Promise<ImageBatch>[] = [];
    let next = 0;
    const fill = () => {
      while (next < starts.length && queue.length < prefetch + 1) {
        const s = starts[next++];
        const p = this.decode(files.slice(s, s + batchSize), size, pre);
        // Handled when awaited; without this a rejected prefetch would count as unhandled meanwhile.
        p.catch(() => undefined);
        queue.push(p);
      }
    };
    fill();
    while (queue.length) {
      const b = await (queue.shift() as Promise<ImageBatch>);
      // While the consumer works on `b`, the next `prefetch` batches decode.
      yield b;
      fill();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
