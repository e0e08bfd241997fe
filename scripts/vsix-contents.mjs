// What each platform package must hold, and a check of a built .vsix against it: the bundles, this
// platform's native engines, nothing of other platforms, and a size limit. Used by
// scripts/package.mjs after every build and by CI.
//
//   node scripts/vsix-contents.mjs <file.vsix> <target>    prints the problems, exit 1 if any
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

/** onnxruntime-node's bin folder, sharp's @img packages and Dawn's dist folder, per VS Code target. */
export const TARGETS = {
  'linux-x64': {
    ort: 'linux/x64',
    ortLibs: ['onnxruntime_binding.node', 'libonnxruntime.so.1'],
    sharp: ['@img/sharp-linux-x64', '@img/sharp-libvips-linux-x64'],
    vips: /^@img\/sharp-libvips-linux-x64\/lib\/libvips-cpp\.so/,
    dawn: 'linux-x64',
    maxMiB: 45,
  },
  'linux-arm64': {
    ort: 'linux/arm64',
    ortLibs: ['onnxruntime_binding.node', 'libonnxruntime.so.1'],
    sharp: ['@img/sharp-linux-arm64', '@img/sharp-libvips-linux-arm64'],
    vips: /^@img\/sharp-libvips-linux-arm64\/lib\/libvips-cpp\.so/,
    dawn: 'linux-arm64',
  },
  'win32-x64': {
    ort: 'win32/x64',
    ortLibs: ['onnxruntime_binding.node', 'onnxruntime.dll', 'DirectML.dll'],
    sharp: ['@img/sharp-win32-x64'],
    vips: /^@img\/sharp-win32-x64\/lib\/libvips-42\.dll$/,
    dawn: 'win32-x64',
  },
  'darwin-arm64': {
    ort: 'darwin/arm64',
    ortLibs: ['onnxruntime_binding.node', 'libonnxruntime.1.dylib'],
    sharp: ['@img/sharp-darwin-arm64', '@img/sharp-libvips-darwin-arm64'],
    vips: /^@img\/sharp-libvips-darwin-arm64\/lib\/libvips-cpp\..*dylib$/,
    dawn: 'darwin-universal',
  },
};

const BUNDLES = ['dist/extension.js', 'dist/kernel.js', 'dist/cli.js', 'dist/decode-worker.js', 'dist/renderers/main.js', 'dist/tfjs-backend-wasm-simd.wasm', 'dist/engines.json', 'package.json'];

/** Names of the files in a zip archive, from its central directory. */
export function zipEntries(file) {
  return centralDirectory(readFileSync(file), file).map((e) => e.name);
}

/** Unpacks a zip archive (stored or deflated entries, as vsce writes them) into `dest`. */
export function extractZip(file, dest) {
  const buf = readFileSync(file);
  for (const e of centralDirectory(buf, file)) {
    if (e.name.endsWith('/')) continue;
    const to = path.resolve(dest, e.name);
    if (!to.startsWith(path.resolve(dest) + path.sep)) throw new Error(`${file}: entry ${e.name} points outside the folder`);
    const data = buf.subarray(e.dataStart(), e.dataStart() + e.compressedSize);
    mkdirSync(path.dirname(to), { recursive: true });
    writeFileSync(to, e.method === 8 ? inflateRawSync(data) : data);
    if ((e.mode & 0o111) !== 0) chmodSync(to, 0o755);
  }
}

function centralDirectory(buf, file) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip archive`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const names = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: broken central directory`);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    names.push({
      name: buf.toString('utf8', p + 46, p + 46 + nameLen),
      method: buf.readUInt16LE(p + 10),
      compressedSize: buf.readUInt32LE(p + 20),
      mode: buf.readUInt32LE(p + 38) >>> 16,
      dataStart: () => local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}

/** Problems of a built package for `target` (a VS Code target or 'universal'); empty when it is as it should be. */
export function checkVsix(file, target) {
  const problems = [];
  const names = zipEntries(file).filter((n) => n.startsWith('extension/')).map((n) => n.slice('extension/'.length));
  const has = (n) => names.includes(n);
  for (const b of BUNDLES) if (!has(b)) problems.push(`missing ${b}`);
  for (const n of names) {
    if (n.endsWith('.map') || n.startsWith('src/') || n.startsWith('test/') || n.startsWith('out/') || n.startsWith('node_modules/')) problems.push(`should not be packaged: ${n}`);
  }
  const engines = names.filter((n) => n.startsWith('dist/node_modules/')).map((n) => n.slice('dist/node_modules/'.length));
  if (target === 'universal') {
    if (engines.length) problems.push(`the universal package carries native files: ${engines.slice(0, 3).join(', ')}${engines.length > 3 ? ', …' : ''}`);
    return problems;
  }
  const t = TARGETS[target];
  if (!t) return [`unknown target ${target}`];
  for (const lib of t.ortLibs) if (!engines.includes(`onnxruntime-node/bin/napi-v6/${t.ort}/${lib}`)) problems.push(`missing onnxruntime-node's ${t.ort}/${lib}`);
  for (const dep of ['onnxruntime-node/dist/index.js', 'onnxruntime-common/package.json', 'sharp/dist/index.cjs', 'detect-libc/package.json', 'semver/package.json', '@img/colour/package.json', 'webgpu/index.js']) {
    if (!engines.includes(dep)) problems.push(`missing ${dep}`);
  }
  const sharpNode = t.sharp[0];
  if (!engines.some((n) => n.startsWith(`${sharpNode}/lib/`) && n.endsWith('.node'))) problems.push(`missing ${sharpNode}'s sharp .node addon`);
  if (!engines.some((n) => t.vips.test(n))) problems.push(`missing libvips for ${target}`);
  if (!engines.includes(`webgpu/dist/${t.dawn}/dawn.node`)) problems.push(`missing webgpu/dist/${t.dawn}/dawn.node`);
  for (const n of engines) {
    const ort = /^onnxruntime-node\/bin\/napi-v6\/([^/]+\/[^/]+)\//.exec(n)?.[1];
    if (ort && ort !== t.ort) problems.push(`another platform's file: ${n}`);
    const img = /^(@img\/sharp-[^/]+)\//.exec(n)?.[1];
    if (img && !t.sharp.includes(img)) problems.push(`another platform's file: ${n}`);
    const dawn = /^webgpu\/dist\/([^/]+)\//.exec(n)?.[1];
    if (dawn && dawn !== t.dawn) problems.push(`another platform's file: ${n}`);
  }
  const mib = statSync(file).size / 1024 / 1024;
  if (t.maxMiB && mib > t.maxMiB) problems.push(`${mib.toFixed(2)} MiB is over the ${t.maxMiB} MiB limit for ${target}`);
  return problems;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [file, target] = process.argv.slice(2);
  if (!file || !target) {
    console.error('usage: node scripts/vsix-contents.mjs <file.vsix> <target>');
    process.exit(2);
  }
  const problems = checkVsix(file, target);
  console.log(problems.length ? problems.join('\n') : `${path.basename(file)}: contents as expected for ${target} (${(statSync(file).size / 1024 / 1024).toFixed(2)} MiB)`);
  process.exit(problems.length ? 1 : 0);
}
