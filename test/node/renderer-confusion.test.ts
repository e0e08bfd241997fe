import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracyOf, classMetrics, heat, metricsFromMatrix, normaliseRows } from '../../renderers/shaping/confusion';
import { bestText, contrast, over, parseColor, toCss } from '../../renderers/shaping/color';
import { formatDuration, formatExact, formatInt, formatShape } from '../../renderers/shaping/format';
import { toConfusion } from '../../renderers/shaping/validate';

const M = [
  [8, 2, 0],
  [1, 6, 3],
  [0, 0, 0],
];
const C = ['cat', 'dog', 'bird'];

test('rows normalise to shares of each true class; an empty row stays zero', () => {
  assert.deepEqual(normaliseRows(M), [[0.8, 0.2, 0], [0.1, 0.6, 0.3], [0, 0, 0]]);
});

test('precision and recall per class from the counts', () => {
  const m = metricsFromMatrix(C, M);
  assert.equal(m[0].precision, 8 / 9);
  assert.equal(m[0].recall, 0.8);
  assert.equal(m[1].precision, 0.75);
  assert.equal(m[1].recall, 0.6);
  assert.equal(m[2].precision, 0, 'predicted bird 3 times, never right');
  assert.ok(Number.isNaN(m[2].recall), 'no true bird: recall undefined');
  assert.equal(m[0].support, 10);
  assert.ok(Math.abs(m[0].f1 - (2 * (8 / 9) * 0.8) / (8 / 9 + 0.8)) < 1e-12);
  assert.equal(accuracyOf(M), 14 / 20);
});

test('the kernel’s per-class metrics are used when they match the classes', () => {
  const d = toConfusion({ kind: 'confusion', classes: C, matrix: M, accuracy: 0.7, perClass: C.map((label) => ({ label, precision: 0.5, recall: 0.5, f1: 0.5, support: 1 })) });
  assert.equal(classMetrics(d)[0].precision, 0.5);
  const mismatched = { ...d, perClass: d.perClass.slice(0, 2) };
  assert.equal(classMetrics(mismatched)[0].precision, 8 / 9);
});

test('heat is in [0, 1] with the largest count hottest', () => {
  const t = heat(M, false);
  assert.equal(t[0][0], 1);
  assert.equal(t[2][2], 0);
  assert.ok(t[0][1] > 0 && t[0][1] < 1);
  assert.equal(heat(normaliseRows(M), true)[0][0], Math.sqrt(0.8));
});

test('confusion validation names the problem', () => {
  assert.throws(() => toConfusion({ kind: 'confusion', classes: C, matrix: [[1, 2]] }), /matrix row 0 must have 3 entries/);
  assert.throws(() => toConfusion({ kind: 'confusion', classes: ['a'], matrix: [[-1]] }), /matrix\[0\]\[0\] must be a count/);
  assert.throws(() => toConfusion({ kind: 'confusion', classes: ['a', 'b'], matrix: [[1, 2]] }), /matrix must have 2 rows/);
});

test('colours: parse the forms VS Code uses, blend, and pick readable text', () => {
  assert.deepEqual(parseColor('#1e1e1e'), { r: 30, g: 30, b: 30, a: 1 });
  assert.deepEqual(parseColor('#fff8'), { r: 255, g: 255, b: 255, a: 0x88 / 255 });
  assert.deepEqual(parseColor('#80808059'), { r: 128, g: 128, b: 128, a: 0x59 / 255 });
  assert.deepEqual(parseColor('rgba(1, 2, 3, 0.5)'), { r: 1, g: 2, b: 3, a: 0.5 });
  assert.deepEqual(parseColor('rgb(1 2 3 / 50%)'), { r: 1, g: 2, b: 3, a: 0.5 });
  assert.equal(parseColor('var(--x)'), undefined);
  assert.equal(parseColor(''), undefined);
  const white = parseColor('#fff')!, black = parseColor('#000')!;
  assert.equal(toCss(over(white, black, 0.5)), 'rgb(128, 128, 128)');
  assert.ok(Math.abs(contrast(white, black) - 21) < 1e-9);
  assert.deepEqual(bestText(parseColor('#1a85ff')!, [white, black]), black);
  assert.deepEqual(bestText(parseColor('#0e3a6b')!, [white, black]), white);
});

test('number formats', () => {
  assert.equal(formatExact(0.12345678912), '0.1234568');
  assert.equal(formatExact(0.5), '0.5');
  assert.equal(formatExact(NaN), 'NaN');
  assert.equal(formatExact(null), 'NaN');
  assert.equal(formatExact(Infinity), '∞');
  assert.equal(formatInt(3538984), '3,538,984');
  assert.equal(formatDuration(3.04), '3.0 s');
  assert.equal(formatDuration(3725), '1 h 2 min');
  assert.equal(formatShape([null, 7, 7, 1280]), '(None, 7, 7, 1280)');
  assert.equal(formatShape([[null, 4], [null, 2]]), '(None, 4), (None, 2)');
});
