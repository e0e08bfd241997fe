import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LrFindData } from '../../src/common/shapes';
import { formatLr } from '../../src/common/formatLr';
import { lrAriaLabel, lrCaption, lrChartSpec } from '../../renderers/shaping/lrfind';
import { toLrFind } from '../../renderers/shaping/validate';

function sweep(): LrFindData {
  const lrs = Array.from({ length: 20 }, (_, i) => 1e-5 * Math.pow(10, i / 4));
  const losses = lrs.map((_, i) => (i < 14 ? 1.1 - i * 0.05 : 0.45 + (i - 13) ** 2 * 0.3));
  return { kind: 'lrfind', version: 1, lrs, losses, raw: losses.map((l) => l + 0.01), suggestion: lrs[8], minimum: lrs[13] / 10, minLr: 1e-5, maxLr: 10, steps: 100, stoppedReason: 'the loss diverged at learning rate 0.56' };
}

test('learning rates read as people write them', () => {
  assert.deepEqual([3e-4, 1.23e-3, 0.5, 10, 1e-7, 2.5e-5].map(formatLr), ['3e-4', '1.2e-3', '0.5', '10', '1e-7', '2.5e-5']);
});

test('lrFind chart data: curve, faint raw loss, suggestion on the curve, y bounds that ignore the diverging tail', () => {
  const d = sweep();
  const s = lrChartSpec(d);
  assert.equal(s.curve.length, 20);
  assert.deepEqual(s.curve[3], { x: d.lrs[3], y: d.losses[3] });
  assert.equal(s.raw.length, 20);
  assert.deepEqual(s.suggestion, { x: d.lrs[8], y: d.losses[8] });
  assert.ok(s.yMin < 0.45 && s.yMax > 1.1 && s.yMax < Math.max(...d.losses), `${s.yMin}..${s.yMax}`);
  assert.equal(lrCaption(d), 'Suggested learning rate 1e-3 (steepest descent of the smoothed loss) · minimum/10 1.8e-3 · 20 of 100 steps, stopped: the loss diverged at learning rate 0.56');
  assert.match(lrAriaLabel(d), /^Smoothed loss against learning rate on a log axis, from 1e-5 to 0\.56; lowest loss 0\.45; suggested rate 1e-3\.$/);
});

test('lrFind output validation: untrusted data fails with a clear error', () => {
  const d = sweep();
  assert.deepEqual(toLrFind(JSON.parse(JSON.stringify(d))), d);
  assert.throws(() => toLrFind({ ...d, kind: 'training' }), /"kind" must be "lrfind"/);
  assert.throws(() => toLrFind({ ...d, lrs: [...d.lrs].reverse() }), /"lrs" must be positive and increasing/);
  assert.throws(() => toLrFind({ ...d, losses: d.losses.slice(1) }), /"losses" must have 20 entries/);
  assert.throws(() => toLrFind({ ...d, losses: [null, ...d.losses.slice(1)] }), /losses\[0\] must be a finite number/);
  assert.throws(() => toLrFind({ ...d, suggestion: -1 }), /"suggestion" must be above 0/);
  const { raw: _raw, stoppedReason: _s, ...bare } = d;
  assert.deepEqual(toLrFind(bare), bare);
});
