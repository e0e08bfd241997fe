// Cuts real photos into an image folder for the real-model figures (not a test: the photos come
// from Debian packages, fetched with `apt-get download` and unpacked with `dpkg -x`, no install):
//   node bench/real-model/crops.mjs <photosRoot> <outDir> [train=30] [val=12] [disjoint|anywhere]
// photosRoot is where the packages were unpacked (`dpkg -x python3-skimage_*.deb R; dpkg -x python3-sklearn_*.deb R`).
// Classes: cat (skimage's chelsea.png), coffee (skimage's coffee.png), flower (scikit-learn's flower.jpg).
// 'disjoint' (default): training crops come from the left 65 % of each photo, validation crops from the
// right 35 %, so no validation pixel was seen in training. 'anywhere': both from the whole photo. Square crops of 35–70 % of the region's height, 160 px, seeded.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

const [root, out, nTrain = '30', nVal = '12', split = 'disjoint'] = process.argv.slice(2);
const [trainRegion, valRegion] = split === 'anywhere' ? [[0, 1], [0, 1]] : [[0, 0.65], [0.65, 1]];
if (!root || !out) throw new Error('usage: node bench/real-model/crops.mjs <photosRoot> <outDir> [train] [val]');
const py = path.join(root, 'usr/lib/python3/dist-packages');
const SOURCES = {
  cat: path.join(py, 'skimage/data/chelsea.png'),
  coffee: path.join(py, 'skimage/data/coffee.png'),
  flower: path.join(py, 'sklearn/datasets/images/flower.jpg'),
};

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function crops(file, dir, n, region, rand) {
  const { width, height } = await sharp(file).metadata();
  const x0 = Math.round(region[0] * width);
  const x1 = Math.round(region[1] * width);
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const side = Math.round(Math.min(x1 - x0, height) * (0.35 + 0.35 * rand()));
    const left = x0 + Math.floor(rand() * (x1 - x0 - side + 1));
    const top = Math.floor(rand() * (height - side + 1));
    await sharp(file).extract({ left, top, width: side, height: side }).resize(160, 160).flop(rand() < 0.5).jpeg({ quality: 90 }).toFile(path.join(dir, `${path.basename(file).split('.')[0]}_${i}.jpg`));
  }
}

const rand = rng(12);
for (const [cls, file] of Object.entries(SOURCES)) {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: unpack python3-skimage and python3-sklearn into ${root}`);
  await crops(file, path.join(out, 'train', cls), Number(nTrain), trainRegion, rand);
  await crops(file, path.join(out, 'val', cls), Number(nVal), valRegion, rand);
}
console.log(`wrote ${out}/train and ${out}/val: ${Object.keys(SOURCES).join(', ')}`);
