/** tl.imageFolder(): `dir/<class>/<image>`, resized and preprocessed as the model expects. */
import type * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { getMeta, PREPROCESS_UNIT } from '../models/meta';
import { outputUnits } from '../models/kinds';
import { probeImage, resolveDecoder } from './decode';
import { mapLimit } from '../util/concurrency';
import { listClassFolders, listClassImages, type ClassListing } from './folder-scan';
import { makeData, resolveAugment } from './dataset';
import { ImageSource } from './imageSource';
import { DEFAULT_IMAGE_SIZE, type ImageFolderData, type ImageFolderOptions, type SkippedFile } from './types';

const PROBE_BYTES = 64 * 1024;

async function probeFile(file: string): Promise<string | undefined> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(file, 'r');
    const buf = Buffer.alloc(PROBE_BYTES);
    const { bytesRead } = await fh.read(buf, 0, PROBE_BYTES, 0);
    probeImage(buf.subarray(0, bytesRead));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await fh?.close();
  }
}

/** Input size and channels from a layers model's first input, when they are fixed numbers. */
function modelInputShape(model: object): { size?: [number, number]; channels?: 1 | 3 } {
  const inputs = (model as { inputs?: { shape: (number | null)[] }[] }).inputs;
  const shape = inputs?.[0]?.shape;
  if (!shape || shape.length !== 4) return {};
  const [, h, w, c] = shape;
  return {
    size: typeof h === 'number' && typeof w === 'number' ? [h, w] : undefined,
    channels: c === 1 || c === 3 ? c : undefined,
  };
}

/**
 * Reads `dir/<class>/<image>` (PNG or JPEG, any depth below the class folder). Class = subfolder
 * name, sorted. Images are resized to the model's input and preprocessed as the model expects.
 */
export async function imageFolder(dir: string, opts: ImageFolderOptions = {}): Promise<ImageFolderData> {
  const root = path.resolve(dir);
  let st: fs.Stats;
  try {
    st = await fsp.stat(root);
  } catch {
    throw new Error(`imageFolder(): folder not found: ${root}`);
  }
  if (!st.isDirectory()) throw new Error(`imageFolder(): ${root} is a file, not a folder of class subfolders.`);

  const meta = opts.model ? getMeta(opts.model) : undefined;
  const fromModel = opts.model ? modelInputShape(opts.model) : {};
  const size = opts.size ?? meta?.inputSize ?? fromModel.size ?? DEFAULT_IMAGE_SIZE;
  const preprocessing = opts.preprocessing ?? meta?.preprocessing ?? PREPROCESS_UNIT;
  const channels = opts.channels ?? meta?.preprocessing?.channels ?? fromModel.channels ?? preprocessing.channels ?? 3;
  const decoder = resolveDecoder(opts.decoder);
  const augmentation = resolveAugment(opts.augment);

  const skipped: SkippedFile[] = [];
  const folders = await listClassFolders(root, skipped);
  if (folders.length === 0) {
    throw new Error(`imageFolder(): ${root} has no class subfolders. Put each class's images in a subfolder named after it, e.g. ${path.join(root, 'cat', '001.jpg')}.`);
  }

  const classes = chooseClasses(root, folders, opts, meta?.classes);
  const { files, labels } = await readableImages(root, folders, classes, skipped);

  const src = new ImageSource(root, classes, files, labels, size, channels, preprocessing, decoder, skipped);
  return makeData<'images'>(src, opts, augmentation, (split) => ({
    dir: root,
    imageSize: size,
    channels,
    preprocessing,
    decoder,
    files: { train: split.train.map((i) => files[i]), validation: split.validation.map((i) => files[i]) },
  })) as ImageFolderData;
}

/**
 * A model's own classes set the order when the folders are (some of) those classes: evaluating or
 * predicting. Folders that share no name with them are a new task for a new head (transfer
 * learning), so the folder names become the classes. A mix of both is a mislabelled folder.
 */
function chooseClasses(root: string, folders: string[], opts: ImageFolderOptions, metaClasses: readonly string[] | undefined): string[] {
  const modelClasses = metaClasses && outputUnits(opts.model) === metaClasses.length ? metaClasses : undefined;
  const newTask = !opts.classes && modelClasses && folders.every((f) => !modelClasses.includes(f));
  const wanted = opts.classes ?? (newTask ? undefined : modelClasses);
  if (wanted) {
    const unknown = folders.filter((f) => !wanted.includes(f));
    if (unknown.length) {
      const whose = opts.classes ? 'the classes given' : `the model's classes`;
      const shown = wanted.length > 12 ? `${wanted.slice(0, 12).join(', ')}, … (${wanted.length} in all)` : wanted.join(', ');
      throw new Error(`imageFolder(): folder label${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ')} in ${root} ${unknown.length > 1 ? 'are' : 'is'} not among ${whose}: ${shown}.`);
    }
    return [...wanted];
  }
  if (folders.length < 2) {
    throw new Error(`imageFolder(): ${root} has only one class folder ('${folders[0]}'); classification needs at least two.`);
  }
  return folders;
}

/** The images of each class folder whose header reads as PNG or JPEG, with their labels; the rest go to `skipped`. */
async function readableImages(root: string, folders: string[], classes: string[], skipped: SkippedFile[]): Promise<{ files: string[]; labels: number[] }> {
  const files: string[] = [];
  const labels: number[] = [];
  const listings = await listClassImages(root, folders);
  for (const folder of folders) {
    const classDir = path.join(root, folder);
    const { files: found, skipped: left } = listings.get(folder) as ClassListing;
    skipped.push(...left);
    if (found.length === 0 && left.length === 0) throw new Error(`imageFolder(): class folder ${classDir} is empty.`);
    const reasons = await mapLimit(found, 32, probeFile);
    const why: SkippedFile[] = [...left];
    let readable = 0;
    found.forEach((f, i) => {
      if (reasons[i]) why.push({ file: f, reason: reasons[i] as string });
      else {
        files.push(f);
        labels.push(classes.indexOf(folder));
        readable++;
      }
    });
    skipped.push(...why.slice(left.length));
    if (readable === 0) {
      const first = why.slice(0, 3).map((s) => `${path.relative(classDir, s.file)}: ${s.reason}`).join('; ');
      throw new Error(`imageFolder(): class folder ${classDir} has no readable PNG or JPEG images (${first}).`);
    }
  }
  if (files.length === 0) throw new Error(`imageFolder(): no images found in ${root}.`);
  return { files, labels };
}
