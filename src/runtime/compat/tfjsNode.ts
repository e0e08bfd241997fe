/**
 * What `require('@tensorflow/tfjs-node')` gives a cell where that package is not installed or does
 * not load: the kernel's own `tf` on the backend in use, plus the `tf.node` image functions that
 * notebooks use (decodeImage/decodePng/decodeJpeg with the JavaScript decoders, encodePng and
 * encodeJpeg), and `file://` model URLs for save and load. Other `tf.node` functions fail with a
 * message that names them.
 */
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { decodeJs, sniffFormat } from '../../tl/data/decode';
import { encodeJpeg, encodePng, tensorPixels } from '../../tl/pixels';
import { registerFileUrls } from './fileIo';

type Channels = 0 | 1 | 3 | 4;

function checkContents(contents: unknown, fn: string): Uint8Array {
  if (!(contents instanceof Uint8Array)) throw new TypeError(`tf.node.${fn}() takes the image file's bytes as a Uint8Array or Buffer (e.g. fs.readFileSync(path))`);
  return contents;
}

function checkChannels(channels: number, fn: string): Channels {
  if (![0, 1, 3, 4].includes(channels)) throw new Error(`tf.node.${fn}(): channels must be 0 (as in the file), 1, 3 or 4, got ${channels}`);
  return channels as Channels;
}

/** Channels stored in the file: 1 for grey, 4 for PNG with alpha, else 3. */
function fileChannels(buf: Uint8Array): 1 | 3 | 4 {
  if (sniffFormat(buf) === 'png' && buf.length > 25) {
    const colourType = buf[25];
    return colourType === 0 || colourType === 4 ? 1 : colourType === 6 ? 4 : 3;
  }
  // JPEG: the component count in the first start-of-frame segment.
  for (let p = 2; p + 9 < buf.length; ) {
    if (buf[p] !== 0xff) break;
    const marker = buf[p + 1];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return buf[p + 9] === 1 ? 1 : 3;
    p += 2 + ((buf[p + 2] << 8) | buf[p + 3]);
  }
  return 3;
}

function formatName(buf: Uint8Array): string {
  const sig = String.fromCharCode(...buf.subarray(0, 4));
  return sig.startsWith('GIF8') ? 'GIF' : sig.startsWith('BM') ? 'BMP' : 'this';
}

function decode(contents: unknown, channels: number, dtype: string | undefined, fn: string, only?: 'png' | 'jpeg'): tf.Tensor3D {
  const buf = checkContents(contents, fn);
  const want = checkChannels(channels, fn);
  if (dtype !== undefined && dtype !== 'int32') throw new Error(`tf.node.${fn}(): dtype must be 'int32', got '${dtype}'`);
  const format = sniffFormat(buf);
  if (!format) throw new Error(`tf.node.${fn}(): ${formatName(buf)} format is not supported without @tensorflow/tfjs-node (PNG and JPEG are)`);
  if (only && format !== only) throw new Error(`tf.node.${fn}(): the bytes are ${format.toUpperCase()}, not ${only.toUpperCase()}`);
  const c = want === 0 ? fileChannels(buf) : want;
  if (c === 4) {
    if (format !== 'png') throw new Error(`tf.node.${fn}(): 4 channels (RGBA) need a PNG image`);
    const png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
    return tf.tensor3d(new Int32Array(png.data), [png.height, png.width, 4], 'int32');
  }
  const img = decodeJs(buf, c);
  return tf.tensor3d(new Int32Array(img.data), [img.height, img.width, c], 'int32');
}

function unavailable(name: string): () => never {
  return () => {
    throw new Error(`tf.node.${name} needs @tensorflow/tfjs-node, which is not loaded in this kernel (only tf.node's image decode/encode functions work without it)`);
  };
}

export function makeTfNode(): Record<string, unknown> {
  return {
    decodeImage: (contents: Uint8Array, channels = 0, dtype?: string, expandAnimations = false) => {
      if (expandAnimations && formatName(checkContents(contents, 'decodeImage')) === 'GIF') return unavailable('decodeImage with animations')();
      return decode(contents, channels, dtype, 'decodeImage');
    },
    decodePng: (contents: Uint8Array, channels = 0, dtype?: string) => decode(contents, channels, dtype, 'decodePng', 'png'),
    decodeJpeg: (contents: Uint8Array, channels = 0) => decode(contents, channels, undefined, 'decodeJpeg', 'jpeg'),
    decodeBmp: unavailable('decodeBmp'),
    decodeGif: unavailable('decodeGif'),
    encodePng: async (image: tf.Tensor3D, compression = 1): Promise<Uint8Array> => {
      void compression; // pngjs picks its own deflate level
      return new Uint8Array(encodePng(tensorPixels(image, 'tf.node.encodePng()')));
    },
    encodeJpeg: async (image: tf.Tensor3D, format = '', quality = 95): Promise<Uint8Array> => {
      void format; // '', 'grayscale' and 'rgb' all come out as a YCbCr JPEG of the tensor's pixels
      return new Uint8Array(encodeJpeg(tensorPixels(image, 'tf.node.encodeJpeg()'), quality));
    },
    TensorBoardCallback: unavailable('TensorBoardCallback'),
    tensorBoard: unavailable('tensorBoard'),
    summaryFileWriter: unavailable('summaryFileWriter'),
    getMetaGraphsFromSavedModel: unavailable('getMetaGraphsFromSavedModel'),
    loadSavedModel: unavailable('loadSavedModel'),
  };
}

/** The kernel's `tf` with `tf.node` added; a new object, so the kernel's own `tf` stays as it is. */
export function tfjsNodeFallback(): Record<string, unknown> {
  registerFileUrls();
  return Object.freeze({ ...(tf as unknown as Record<string, unknown>), node: Object.freeze(makeTfNode()) });
}
