/**
 * Pretrained models that `tl.load(name)` knows by name. Data only: where each one lives, its format,
 * and what its input expects. Nothing here is downloaded until a cell asks for it.
 */
import type { Preprocessing } from './meta';

export interface ZooEntry {
  /** The name a cell passes to tl.load(). */
  name: string;
  /** Other accepted spellings (compared case-insensitively). */
  aliases?: string[];
  description: string;
  /** URL of the model.json (tfhub / Kaggle URLs get `/model.json?tfjs-format=file` like tfjs's `fromTFHub`). */
  url: string;
  /** 'layers' models can be cut, frozen and fine-tuned; 'graph' models only extract features. */
  format: 'layers' | 'graph';
  inputSize: [number, number];
  preprocessing: Preprocessing;
  /** What the output is: ImageNet logits/probabilities, or a pooled feature vector. */
  output: 'imagenet-classes' | 'features';
  /** For layers models: the layer whose output is the usual feature map to put a head on. */
  featureLayer?: string;
  /**
   * Known sizes / SHA-256 of the files, by the file name in model.json (or 'model.json').
   * Checked after download when present; the weightsManifest byte count is always checked.
   */
  files?: Record<string, { bytes?: number; sha256?: string }>;
}

// MobileNet v1 from tfjs-models' storage bucket is a Keras model converted to the layers format
// (trainable in TF.js); Keras' MobileNet preprocessing maps pixels to [-1, 1].
const V1_PRE: Preprocessing = { scale: 1 / 127.5, offset: -1, channels: 3 };
// TF-Hub image models take pixels in [0, 1].
const HUB_PRE: Preprocessing = { scale: 1 / 255, offset: 0, channels: 3 };

function v1(alpha: string, alias: string): ZooEntry {
  return {
    name: `mobilenet_v1_${alpha}`,
    aliases: [`mobilenet-v1-${alpha}`, `mobilenet_v1_${alias}`, `mobilenet_v1_${alpha}_224`],
    description: `MobileNet v1, width ${alpha}, 224 px, ImageNet (Keras model, TF.js layers format: can be fine-tuned).`,
    url: `https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_${alpha}_224/model.json`,
    format: 'layers',
    inputSize: [224, 224],
    preprocessing: V1_PRE,
    output: 'imagenet-classes',
    featureLayer: 'conv_pw_13_relu',
  };
}

function hub(name: string, aliases: string[], description: string, path: string, output: ZooEntry['output']): ZooEntry {
  return {
    name,
    aliases,
    description,
    url: `https://tfhub.dev/google/tfjs-model/imagenet/${path}/model.json?tfjs-format=file`,
    format: 'graph',
    inputSize: [224, 224],
    preprocessing: HUB_PRE,
    output,
  };
}

export const ZOO: readonly ZooEntry[] = [
  v1('0.25', '025'),
  v1('0.50', '050'),
  v1('0.75', '075'),
  v1('1.0', '100'),
  hub(
    'mobilenet_v2',
    ['mobilenet-v2', 'mobilenet_v2_100', 'mobilenet_v2_feature_vector'],
    'MobileNet v2 1.0, 224 px, ImageNet feature vector (1280 values); TF-Hub graph model: a frozen feature extractor.',
    'mobilenet_v2_100_224/feature_vector/3/default/1',
    'features',
  ),
  hub(
    'mobilenet_v2_classification',
    ['mobilenet-v2-classification', 'mobilenet_v2_100_classification'],
    'MobileNet v2 1.0, 224 px, ImageNet classifier (1001 classes, background first); TF-Hub graph model.',
    'mobilenet_v2_100_224/classification/3/default/1',
    'imagenet-classes',
  ),
  hub(
    'mobilenet_v3_small',
    ['mobilenet-v3-small', 'mobilenet_v3_small_100'],
    'MobileNet v3 Small 1.0, 224 px, ImageNet feature vector (1024 values); TF-Hub graph model.',
    'mobilenet_v3_small_100_224/feature_vector/5/default/1',
    'features',
  ),
  hub(
    'mobilenet_v3_large',
    ['mobilenet-v3-large', 'mobilenet_v3_large_100', 'mobilenet_v3'],
    'MobileNet v3 Large 1.0, 224 px, ImageNet feature vector (1280 values); TF-Hub graph model.',
    'mobilenet_v3_large_100_224/feature_vector/5/default/1',
    'features',
  ),
];

const norm = (s: string) => s.trim().toLowerCase().replace(/-/g, '_');

export function findZooEntry(name: string): ZooEntry | undefined {
  const n = norm(name);
  return ZOO.find((e) => norm(e.name) === n || (e.aliases ?? []).some((a) => norm(a) === n));
}

export function zooNames(): string[] {
  return ZOO.map((e) => e.name);
}
