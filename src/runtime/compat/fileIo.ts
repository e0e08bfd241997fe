/**
 * `file://` model URLs, which @tensorflow/tfjs-node provides and plain TF.js in Node lacks:
 * `model.save('file://./my-model')` writes model.json + weights.bin as tfjs-node does, and
 * `tf.loadLayersModel('file://./my-model/model.json')` reads them back. Registered only where
 * the tfjs-node stand-in is used.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readModelArtifacts } from '../../tl/models';
import { writeFileAtomic } from '../../tl/util/atomic';

const SCHEME = 'file://';

function localPath(url: string): string {
  return path.resolve(decodeURIComponent(url.slice(SCHEME.length)));
}

function weightBytes(data: tf.io.ModelArtifacts['weightData']): Buffer {
  if (data == null) return Buffer.alloc(0);
  return Buffer.concat((Array.isArray(data) ? data : [data]).map((b) => Buffer.from(b)));
}

/** Saves into a folder (created if needed): weights.bin first, model.json last. */
function saveHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts) {
      await fsp.mkdir(dir, { recursive: true });
      await writeFileAtomic(path.join(dir, 'weights.bin'), weightBytes(artifacts.weightData));
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology!,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: ['./weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      await writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** Loads model.json, given as the file or as its folder. */
function loadHandler(target: string): tf.io.IOHandler {
  return {
    async load() {
      const stat = await fsp.stat(target).catch(() => undefined);
      const file = stat?.isDirectory() ? path.join(target, 'model.json') : target;
      return (await readModelArtifacts(file)).artifacts;
    },
  };
}

let registered = false;

export function registerFileUrls(): void {
  if (registered) return;
  registered = true;
  const isFile = (url: string | string[]) => typeof url === 'string' && url.startsWith(SCHEME);
  // TF.js's router type says IOHandler, but a router answers null for URLs that are not its own.
  const none = null as unknown as tf.io.IOHandler;
  tf.io.registerSaveRouter((url) => (isFile(url) ? saveHandler(localPath(url as string)) : none));
  tf.io.registerLoadRouter((url) => (isFile(url) ? loadHandler(localPath(url as string)) : none));
}
