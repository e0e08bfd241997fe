/**
 * PNG/JPEG decoding and resizing to a model's input size.
 *
 * Two decoders give the same kind of result (8-bit pixels, height × width × channels, alpha dropped):
 * - sharp (libvips, native): decodes and resizes in one pass, in libuv's thread pool, so decoding
 *   overlaps training and runs several times faster than JavaScript (figures in the part-B report).
 *   It is an optional native module (an esbuild external): loaded lazily, and only if it loads.
 * - pngjs + jpeg-js + a JS resampler: pure JavaScript, always available, slower.
 * Both resample with a linear (triangle) filter that widens when shrinking, so that downscaled
 * images are averaged rather than aliased, and both ignore EXIF orientation; their outputs differ
 * by rounding only. The decoder's name is part of every cache key that depends on pixels.
 */
import * as fs from 'node:fs/promises';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { requireEngine } from '../engines';

export type DecoderName = 'sharp' | 'js';
export type DecoderChoice = DecoderName | 'auto';

export interface DecodedImage {
  /** Row-major height × width × channels, 0..255. */
  data: Uint8Array;
  height: number;
  width: number;
  channels: 1 | 3;
}

export interface DecodeOptions {
  /** [height, width] to resize to; omitted: keep the image's own size. */
  size?: [number, number];
  channels?: 1 | 3;
  decoder?: DecoderChoice;
}

export type ImageFormat = 'png' | 'jpeg';

/** Images larger than this are refused rather than decoded into gigabytes. */
export const MAX_PIXELS = 100_000_000;

// --- sharp, loaded lazily

// TypeScript resolves sharp's ESM typings (default export); its CommonJS entry exports the function itself.
type SharpModule = typeof import('sharp').default;
let sharpModule: SharpModule | null | undefined;
let sharpLoadError: string | undefined;
let sharpFrom: { dir: string; version: string } | undefined;

function loadSharp(): SharpModule | null {
  if (sharpModule !== undefined) return sharpModule;
  const r = requireEngine<SharpModule>('sharp');
  sharpModule = r.module ?? null;
  sharpFrom = r.found;
  sharpLoadError = r.module ? undefined : r.error;
  return sharpModule;
}

/** sharp's and libvips' versions and the folder sharp was loaded from, or the reason it is not used. */
export function sharpInfo(): { version?: string; libvips?: string; from?: string; reason?: string } {
  const sharp = loadSharp();
  if (!sharp) return { reason: sharpLoadError };
  const versions = (sharp as unknown as { versions?: Record<string, string> }).versions ?? {};
  return { version: versions.sharp ?? sharpFrom?.version, libvips: versions.vips, from: sharpFrom?.dir };
}

/** Which decoder `auto` picks here, and why sharp is not used when it is not. */
export function decoderInfo(): { decoder: DecoderName; reason?: string } {
  const forced = process.env.TRANSFER_LAB_DECODER;
  if (forced === 'js') return { decoder: 'js', reason: 'TRANSFER_LAB_DECODER=js' };
  if (loadSharp()) return { decoder: 'sharp' };
  return { decoder: 'js', reason: sharpLoadError ?? 'sharp did not load' };
}

export function resolveDecoder(choice: DecoderChoice = 'auto'): DecoderName {
  if (choice === 'auto') return decoderInfo().decoder;
  if (choice === 'sharp' && !loadSharp()) {
    throw new Error(`The sharp image decoder was asked for but did not load: ${sharpLoadError ?? 'unknown error'}`);
  }
  return choice;
}

// --- format sniffing

/** Sniffs PNG/JPEG from the first bytes; the file extension is not trusted. */
export function sniffFormat(head: Uint8Array): ImageFormat | undefined {
  if (head.length >= 8 && head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47) return 'png';
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  return undefined;
}

export interface ProbeResult {
  format: ImageFormat;
  /** Known when the header could be parsed from the bytes given. */
  width?: number;
  height?: number;
}

/**
 * Cheap header check (no pixel decoding): format, and dimensions when the header holds them.
 * Throws with a reason a person can act on.
 */
export function probeImage(head: Uint8Array): ProbeResult {
  if (head.length === 0) throw new Error('empty file');
  const format = sniffFormat(head);
  if (!format) throw new Error('not a PNG or JPEG image (unknown file signature)');
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (format === 'png') {
    // Signature (8) + IHDR length (4) + "IHDR" (4) + width (4) + height (4).
    if (head.length < 24) throw new Error('truncated PNG header');
    if (String.fromCharCode(head[12], head[13], head[14], head[15]) !== 'IHDR') throw new Error('PNG without an IHDR header chunk');
    const width = view.getUint32(16);
    const height = view.getUint32(20);
    checkDims(width, height);
    return { format, width, height };
  }
  // JPEG: walk the marker segments to the first start-of-frame.
  let p = 2;
  while (p + 4 <= head.length) {
    if (head[p] !== 0xff) throw new Error(`corrupt JPEG: expected a marker at byte ${p}`);
    const marker = head[p + 1];
    if (marker === 0xff) {
      p++;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) throw new Error('JPEG without a frame header');
    const len = view.getUint16(p + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (p + 9 > head.length) break;
      const height = view.getUint16(p + 5);
      const width = view.getUint16(p + 7);
      checkDims(width, height);
      return { format, width, height };
    }
    if (len < 2) throw new Error(`corrupt JPEG: bad segment length at byte ${p}`);
    p += 2 + len;
  }
  // The frame header lies beyond the bytes read (large EXIF blocks); decoding will tell.
  return { format };
}

function checkDims(width: number, height: number): void {
  if (width === 0 || height === 0) throw new Error(`image has zero size (${width}×${height})`);
  if (width * height > MAX_PIXELS) throw new Error(`image too large (${width}×${height} pixels)`);
}

// --- decoding

/** Decodes a PNG or JPEG file or buffer, resizes it, and returns 8-bit pixels. */
export async function decodeImage(input: string | Uint8Array, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const buf = typeof input === 'string' ? await fs.readFile(input) : input;
  const decoder = resolveDecoder(opts.decoder);
  const channels = opts.channels ?? 3;
  if (opts.size) checkSize(opts.size);
  return decoder === 'sharp' ? decodeSharp(buf, channels, opts.size) : decodeJs(buf, channels, opts.size);
}

function checkSize(size: [number, number]): void {
  const [h, w] = size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new Error(`Image size must be [height, width] in whole pixels, got [${size.join(', ')}]`);
  }
}

async function decodeSharp(buf: Uint8Array, channels: 1 | 3, size?: [number, number]): Promise<DecodedImage> {
  const sharp = loadSharp();
  if (!sharp) throw new Error('sharp is not available');
  const format = sniffFormat(buf);
  if (!format) throw new Error('not a PNG or JPEG image (unknown file signature)');
  // failOn 'error': a truncated or corrupt file is rejected instead of decoding to grey pixels.
  let img = sharp(buf, { failOn: 'error', limitInputPixels: MAX_PIXELS }).removeAlpha();
  if (size) img = img.resize(size[1], size[0], { fit: 'fill', kernel: 'linear' });
  // Always sRGB out of libvips; grey is taken in JS with the same weights as the JS decoder
  // (libvips' own b-w conversion is perceptual and differs by ~13 levels on average).
  let out: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    out = await img.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    // libvips repeats its warnings over several lines; the first says what is wrong.
    throw new Error((e instanceof Error ? e.message : String(e)).split('\n')[0]);
  }
  const { data, info } = out;
  if (info.channels !== 3) throw new Error(`decoder returned ${info.channels} channels, expected 3`);
  const rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { data: channels === 3 ? rgb : toChannels(rgb, info.width * info.height, 3, 1), height: info.height, width: info.width, channels };
}

export function decodeJs(buf: Uint8Array, channels: 1 | 3, size?: [number, number]): DecodedImage {
  const format = sniffFormat(buf);
  let rgba: Uint8Array;
  let width: number;
  let height: number;
  let srcChannels: 3 | 4;
  if (format === 'png') {
    const png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
    ({ width, height } = png);
    rgba = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
    srcChannels = 4;
  } else if (format === 'jpeg') {
    const j = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: MAX_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
    ({ width, height } = j);
    rgba = j.data;
    srcChannels = 3;
  } else {
    throw new Error('not a PNG or JPEG image (unknown file signature)');
  }
  checkDims(width, height);
  if (rgba.length < width * height * srcChannels) throw new Error('decoder returned fewer pixels than the header promised');
  const packed = toChannels(rgba, width * height, srcChannels, channels);
  const out = size && (size[0] !== height || size[1] !== width) ? resizeLinear(packed, height, width, channels, size[0], size[1]) : packed;
  return { data: out, height: size ? size[0] : height, width: size ? size[1] : width, channels };
}

/** Drops alpha, and for one channel takes luma (Rec. 601 weights, as most image libraries do). */
function toChannels(src: Uint8Array, pixels: number, srcC: 3 | 4, dstC: 1 | 3): Uint8Array {
  const out = new Uint8Array(pixels * dstC);
  for (let i = 0, s = 0, d = 0; i < pixels; i++, s += srcC, d += dstC) {
    if (dstC === 3) {
      out[d] = src[s];
      out[d + 1] = src[s + 1];
      out[d + 2] = src[s + 2];
    } else {
      out[d] = Math.round(0.299 * src[s] + 0.587 * src[s + 1] + 0.114 * src[s + 2]);
    }
  }
  return out;
}

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  maxTaps: number;
}

/**
 * Per output index: the input indices and weights of a triangle filter. When shrinking, the filter
 * widens by the scale factor (pixel-centre aligned), which averages the covered area.
 */
function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale - 0.5;
    let lo = Math.ceil(centre - support);
    let hi = Math.floor(centre + support);
    lo = Math.max(lo, 0);
    hi = Math.min(hi, inSize - 1);
    let sum = 0;
    let n = 0;
    for (let i = lo; i <= hi && n < maxTaps; i++, n++) {
      const w = Math.max(0, 1 - Math.abs(i - centre) / support);
      weights[o * maxTaps + n] = w;
      sum += w;
    }
    if (sum === 0) {
      // Only at the very edge of tiny images: take the nearest pixel.
      const nearest = Math.min(inSize - 1, Math.max(0, Math.round(centre)));
      start[o] = nearest;
      count[o] = 1;
      weights[o * maxTaps] = 1;
      continue;
    }
    for (let k = 0; k < n; k++) weights[o * maxTaps + k] /= sum;
    start[o] = lo;
    count[o] = n;
  }
  return { start, count, weights, maxTaps };
}

/** Separable linear resampling of an 8-bit H×W×C image. */
export function resizeLinear(src: Uint8Array, h: number, w: number, c: number, outH: number, outW: number): Uint8Array {
  const tx = taps(w, outW);
  const ty = taps(h, outH);
  // Horizontal pass into floats (h × outW × c), then vertical pass with rounding.
  const mid = new Float32Array(h * outW * c);
  for (let y = 0; y < h; y++) {
    const row = y * w * c;
    for (let x = 0; x < outW; x++) {
      const base = x * tx.maxTaps;
      const s0 = tx.start[x];
      const n = tx.count[x];
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += tx.weights[base + k] * src[row + (s0 + k) * c + ch];
        mid[(y * outW + x) * c + ch] = acc;
      }
    }
  }
  const out = new Uint8Array(outH * outW * c);
  const rowLen = outW * c;
  for (let y = 0; y < outH; y++) {
    const base = y * ty.maxTaps;
    const s0 = ty.start[y];
    const n = ty.count[y];
    for (let i = 0; i < rowLen; i++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += ty.weights[base + k] * mid[(s0 + k) * rowLen + i];
      out[y * rowLen + i] = acc <= 0 ? 0 : acc >= 255 ? 255 : Math.round(acc);
    }
  }
  return out;
}
