/** The gallery's data checks: inline PNGs only, captions as text, limits on what is drawn. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toGallery } from '../../renderers/shaping/validate';
import { markdownText } from '../../src/common/markdown';

const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

test('a gallery keeps inline PNGs, text lines and flags', () => {
  const g = toGallery({ kind: 'gallery', version: 1, title: 'Top 1 losses', items: [{ image: PNG, alt: 'a.png', lines: ['a.png', 'true: <b>cat</b>', 42], flag: true }, { alt: 'row 3', lines: ['row 3'] }] });
  assert.equal(g.items[0].image, PNG);
  assert.deepEqual(g.items[0].lines, ['a.png', 'true: <b>cat</b>', '42']);
  assert.equal(g.items[0].flag, true);
  assert.equal(g.items[1].image, undefined, 'a sample that is not an image has captions only');
});

test('anything but an inline PNG is refused: remote, script and other data URLs', () => {
  for (const image of ['https://example.com/x.png', 'javascript:alert(1)', 'data:image/svg+xml;base64,PHN2Zz4=', `${PNG}"><img src=x>`, 'data:text/html;base64,PGI+', '']) {
    assert.throws(() => toGallery({ kind: 'gallery', items: [{ image, lines: [] }] }), /items\[0\]: "image" must be an inline PNG/, image);
  }
  assert.throws(() => toGallery({ kind: 'gallery', items: Array.from({ length: 501 }, () => ({ lines: [] })) }), /501 items; at most 500/);
  assert.throws(() => toGallery({ kind: 'confusion', items: [] }), /"kind" must be "gallery"/);
});

test('markdownText shows names as written: no markup, no table break, no link', () => {
  const hostile = '<img src=x onerror=alert(1)> | [click](http://x) *bold* `code`\nnext';
  const md = markdownText(hostile);
  assert.ok(!/(^|[^\\])[<>|[\]()*`]/.test(md), md);
  assert.ok(!md.includes('\n'));
  assert.equal(md.replace(/\\(.)/g, '$1'), hostile.replace('\n', ' '));
});
