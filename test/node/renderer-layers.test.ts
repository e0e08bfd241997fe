import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LayerInfo } from '../../src/common/shapes';
import { countLayers, groupLayers, shouldGroup } from '../../renderers/shaping/layers';
import { freezeCode, isModelExpression } from '../../renderers/shaping/freeze-code';
import { toLayerMap } from '../../renderers/shaping/validate';
import { cutText, layerAriaLabel, detailRows } from '../../renderers/layers/text';

function layer(index: number, name: string, block: string, trainable: boolean, extra: Partial<LayerInfo> = {}): LayerInfo {
  return { index, name, className: 'Conv2D', outputShape: [null, 7, 7, 8], trainableParams: trainable ? 10 : 0, nonTrainableParams: trainable ? 0 : 10, trainable, block, ...extra };
}

/** MobileNetV2-like: input, stem, 16 blocks of 9 layers, top, pooling, head → 153 layers. */
function mobilenetLike(trainableFrom: number): LayerInfo[] {
  const out: LayerInfo[] = [];
  const add = (name: string, block: string) => out.push(layer(out.length, name, block, out.length >= trainableFrom));
  add('input_1', 'input');
  for (const n of ['Conv1', 'bn_Conv1', 'Conv1_relu']) add(n, 'Conv1');
  for (let b = 1; b <= 16; b++) for (let k = 0; k < 9; k++) add(`block_${b}_${k}`, `block_${b}`);
  for (const n of ['Conv_1', 'Conv_1_bn', 'out_relu']) add(n, 'Conv_1');
  add('global_average_pooling2d', 'global_average_pooling2d');
  add('predictions', 'predictions');
  return out;
}

test('150+ layers are grouped by block, consecutive, with counts per group', () => {
  const L = mobilenetLike(133);
  assert.equal(L.length, 153);
  assert.ok(shouldGroup(L));
  assert.ok(!shouldGroup(L.slice(0, 149)));
  const g = groupLayers(L);
  assert.deepEqual(g.slice(0, 3).map((x) => [x.label, x.start, x.end]), [['input', 0, 0], ['Conv1', 1, 3], ['block_1', 4, 12]]);
  assert.equal(g.length, 21);
  assert.equal(g.reduce((n, x) => n + x.count, 0), 153);
  const mixed = g.find((x) => x.start <= 133 && x.end >= 133)!;
  assert.equal(mixed.label, 'block_15');
  assert.equal(mixed.state, 'mixed');
  assert.equal(mixed.frozen + mixed.trainable, mixed.count);
  assert.equal(g[0].state, 'frozen');
  assert.equal(g[g.length - 1].state, 'trainable');
});

test('models without useful block names fall back to chunks of 20', () => {
  const L = Array.from({ length: 500 }, (_, i) => layer(i, `dense_${i}`, `dense_${i}`, i > 400));
  const g = groupLayers(L);
  assert.equal(g.length, 25);
  assert.deepEqual([g[0].label, g[0].count, g[24].label], ['layers 0–19', 20, 'layers 480–499']);
});

test('counts of frozen, trainable and inference-mode BatchNorm layers', () => {
  const L = [layer(0, 'a', 'a', false, { bnInference: true }), layer(1, 'b', 'b', true)];
  assert.deepEqual(countLayers(L), { layers: 2, frozen: 1, trainable: 1, bnInference: 1 });
});

test('freeze code reproduces the usual frozen base and trainable head from "all"', () => {
  const L = mobilenetLike(130);
  assert.equal(
    freezeCode(L, 0, L.length - 1),
    `tl.freeze(model, 'all');\ntl.unfreeze(model, { from: "${L[130].name}", to: "predictions" });`,
  );
  const mostlyTrainable = mobilenetLike(5);
  assert.equal(freezeCode(mostlyTrainable, 0, 152), `tl.unfreeze(model, 'all');\ntl.freeze(model, { from: "input_1", to: "${mostlyTrainable[4].name}" });`);
});

test('freeze code for a partial range: one call per run of equal state', () => {
  const L = mobilenetLike(130);
  assert.equal(freezeCode(L, 120, 125), 'tl.freeze(model, { from: "block_13_8", to: "block_14_4" });');
  assert.equal(freezeCode(L, 132, 126), 'tl.freeze(model, { from: "block_14_5", to: "block_14_8" });\ntl.unfreeze(model, { from: "block_15_0", to: "block_15_2" });');
  assert.equal(freezeCode(L, 7, 7), 'tl.freeze(model, "block_1_3");');
});

test('freeze code actions and the model variable', () => {
  const L = mobilenetLike(130);
  assert.equal(freezeCode(L, 4, 12, { action: 'unfreeze', model: 'base' }), 'tl.unfreeze(base, { from: "block_1_0", to: "block_1_8" });');
  assert.equal(freezeCode(L, 0, 152, { action: 'freeze' }), "tl.freeze(model, 'all');");
  assert.equal(freezeCode(L, 1, 1, { model: 'alert(1); x' }), 'tl.freeze(model, "Conv1");', 'a bad variable falls back to model');
  assert.ok(isModelExpression('ctx.model') && !isModelExpression('a b') && !isModelExpression('1x'));
  assert.throws(() => freezeCode([], 0, 0), /no layers/);
});

test('hostile and duplicate names stay string literals; duplicates use indices', () => {
  const evil = '<img src=x onerror=alert(1)>"); alert(2); ("';
  const L = [layer(0, evil, 'x', false), layer(1, 'ok', 'y', false)];
  const code = freezeCode(L, 0, 0);
  assert.equal(code, `tl.freeze(model, ${JSON.stringify(evil)});`);
  // The literal evaluates back to the exact name: nothing escapes the string.
  assert.equal(JSON.parse(code.slice('tl.freeze(model, '.length, -2)), evil);
  const dup = [layer(0, 'same', 'a', false), layer(1, 'same', 'a', false), layer(2, 'other', 'b', true)];
  assert.equal(freezeCode(dup, 0, 1), 'tl.freeze(model, { from: 0, to: 1 });');
});

test('layer map validation: names must be strings, layers sorted, totals filled', () => {
  const m = toLayerMap({ kind: 'layers', modelName: 'm', layers: [layer(1, 'b', 'b', true), layer(0, 'a', 'a', false)] });
  assert.deepEqual(m.layers.map((l) => l.name), ['a', 'b']);
  assert.deepEqual(m.totals, { trainable: 10, nonTrainable: 10, total: 20 });
  assert.throws(() => toLayerMap({ kind: 'layers', layers: [{ index: 0, name: 5 }] }), /layers\[0\]: "name" must be a string/);
  assert.throws(() => toLayerMap({ kind: 'training' }), /"kind" must be "layers"/);
});

test('layer texts: accessible name and details', () => {
  const l = layer(3, 'bn', 'Conv1', false, { className: 'BatchNormalization', bnInference: true, nonTrainableParams: 1234 });
  assert.equal(layerAriaLabel(l), '3: bn (BatchNormalization), frozen, 1,234 params, BatchNormalization in inference mode');
  const rows = Object.fromEntries(detailRows(l));
  assert.equal(rows['Output shape'], '(None, 7, 7, 8)');
  assert.equal(rows['Non-trainable params'], '1,234');
  assert.match(rows.BatchNorm, /inference mode/);
});

test('layer map cut mark: validated, said in words, marked on the cut layer and the unused ones', () => {
  const base = [layer(0, 'conv', 'conv', false), layer(1, 'flatten_1', 'flatten_1', false), layer(2, 'dense_1', 'dense_1', true, { unused: true })];
  const m = toLayerMap({ kind: 'layers', modelName: 'nsfw', layers: base, cut: { index: 1, layer: 'flatten_1', reason: 'a classifier stack', model: 'nsfw + head' } });
  assert.deepEqual(m.cut, { index: 1, layer: 'flatten_1', reason: 'a classifier stack', model: 'nsfw + head' });
  assert.equal(m.layers[2].unused, true);
  assert.equal(cutText(m), 'Cut: nsfw + head takes the output of 1 flatten_1; the 1 layer(s) after it are not part of it (a classifier stack).');
  assert.equal(cutText({ ...m, cut: { index: 1, layer: 'flatten_1', reason: 'r' } }), 'Cut: the head takes the output of 1 flatten_1 (r).');
  assert.equal(cutText(toLayerMap({ kind: 'layers', layers: base })), '');
  assert.match(layerAriaLabel(m.layers[1], true), /, cut: the head takes this output$/);
  assert.match(layerAriaLabel(m.layers[2]), /, unused: after the cut$/);
  assert.match(Object.fromEntries(detailRows(m.layers[2])).Cut, /does not use this layer/);
  assert.throws(() => toLayerMap({ kind: 'layers', layers: base, cut: { index: 7, layer: 'x', reason: 'r' } }), /cut: "index" 7 is not a layer of the map/);
  assert.throws(() => toLayerMap({ kind: 'layers', layers: base, cut: { index: 1, layer: 3, reason: 'r' } }), /cut: "layer" must be a string/);
});
