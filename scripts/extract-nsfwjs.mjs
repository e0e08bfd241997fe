#!/usr/bin/env node
/**
 * Writes one of the nsfwjs package's pretrained Keras models (shipped as JS modules that hold
 * model.json and base64 weight shards) as a plain TF.js model folder that tl.load reads:
 * model.json, its .bin shards and transfer-lab.json (classes, 224×224 input, pixels / 255, as
 * nsfwjs preprocesses them).
 *
 *   node scripts/extract-nsfwjs.mjs <out dir> [mobilenet_v2 | mobilenet_v2_mid | inception_v3]
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const [out, which = 'mobilenet_v2'] = process.argv.slice(2);
if (!out) {
  console.error('usage: node scripts/extract-nsfwjs.mjs <out dir> [mobilenet_v2 | mobilenet_v2_mid | inception_v3]');
  process.exit(2);
}
// nsfwjs exports no package.json: its root is the folder above the dist/ its entry point is in.
const entry = require.resolve('nsfwjs');
const pkg = entry.slice(0, entry.lastIndexOf(`${path.sep}dist${path.sep}`));
const dir = path.join(pkg, 'dist', 'models', which);
if (!fs.existsSync(path.join(dir, 'model.min.js'))) {
  console.error(`nsfwjs has no model "${which}" (looked in ${dir}).`);
  process.exit(2);
}
const json = require(path.join(dir, 'model.min.js'));
fs.mkdirSync(out, { recursive: true });
for (const group of json.weightsManifest) {
  group.paths = group.paths.map((p) => {
    const b64 = require(path.join(dir, `${p}.min.js`));
    if (typeof b64 !== 'string') throw new Error(`${p}.min.js does not hold a base64 string`);
    fs.writeFileSync(path.join(out, `${p}.bin`), Buffer.from(b64, 'base64'));
    return `${p}.bin`;
  });
}
fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify(json));
const { NSFW_CLASSES } = require(path.join(pkg, 'dist', 'cjs', 'nsfw_classes.js'));
const classes = Object.keys(NSFW_CLASSES).sort((a, b) => a - b).map((k) => NSFW_CLASSES[k]);
const meta = { version: 1, name: `nsfwjs ${which}`, source: 'file', format: 'layers', classes, inputSize: which === 'inception_v3' ? [299, 299] : [224, 224], preprocessing: { scale: 1 / 255, offset: 0, channels: 3 } };
fs.writeFileSync(path.join(out, 'transfer-lab.json'), JSON.stringify(meta, null, 2) + '\n');
console.log(`wrote ${out}: nsfwjs ${JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version} ${which}, classes ${classes.join(', ')}`);
