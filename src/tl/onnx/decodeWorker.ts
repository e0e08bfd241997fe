/**
 * Worker thread for DecodePool: decodes and resizes image files with the tl core's own decoder
 * (so pixels are identical to the main thread's) and writes preprocessed float32 NHWC rows into a
 * buffer that is transferred back, not copied.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeImage, type DecoderChoice } from '../data/decode';

export interface DecodeJob {
  id: number;
  files: string[];
  size: [number, number];
  channels: 1 | 3;
  scale: number;
  offset: number;
  decoder: DecoderChoice;
}

export interface DecodeResult {
  id: number;
  data: Float32Array;
  /** Per file: undefined when decoded, else the error message (its row is left at zero). */
  errors: (string | undefined)[];
}

export async function decodeInto(job: DecodeJob): Promise<DecodeResult> {
  const [h, w] = job.size;
  const row = h * w * job.channels;
  const data = new Float32Array(job.files.length * row);
  const errors: (string | undefined)[] = [];
  // All files at once: sharp queues them on libuv's thread pool, so they decode in parallel.
  await Promise.all(
    job.files.map(async (file, i) => {
      try {
        const img = await decodeImage(file, { size: job.size, channels: job.channels, decoder: job.decoder });
        const px = img.data;
        const o = i * row;
        for (let k = 0; k < row; k++) data[o + k] = px[k] * job.scale + job.offset;
        errors[i] = undefined;
      } catch (e) {
        errors[i] = e instanceof Error ? e.message : String(e);
      }
    }),
  );
  return { id: job.id, data, errors };
}

// Only when started by DecodePool: the main thread imports decodeInto from here too.
if (parentPort && (workerData as { transferLabDecodeWorker?: boolean } | undefined)?.transferLabDecodeWorker) {
  const port = parentPort;
  port.on('message', (job: DecodeJob) => {
    void decodeInto(job).then((r) => port.postMessage(r, [r.data.buffer as ArrayBuffer]));
  });
}
