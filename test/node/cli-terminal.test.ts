/**
 * Terminal output is escaped: class, folder and file names with control characters cannot retitle
 * the terminal, move the cursor or reverse text, through `predict`, the `run` echo or our errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { terminalJson, terminalName, terminalText } from '../../src/common/terminal';
import { formatPredictions } from '../../src/cli/predict';

const root = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(root, 'dist', 'cli.js');

const ESC = '\u001b';
const HOSTILE = [`${ESC}]0;pwned\u0007cat`, 'dog\nOK: 9 cells on cpu in 0.1 s; outputs written to fake.ipynb', '\u202eevil'];

/** Every control character a terminal acts on, except newline, CRLF, tab and colours. */
function rawControls(s: string, allow: RegExp = /[\n\t]/): string[] {
  const colours = /\u001b\[[0-9;]*m/g;
  return [...s.replace(colours, '').replace(/\r\n/g, '\n')].filter((ch) => /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/.test(ch) && !allow.test(ch));
}

test('terminalName shows every control character as a visible escape and leaves other text alone', () => {
  assert.equal(terminalName(HOSTILE[0]), '\\e]0;pwned\\x07cat');
  assert.equal(terminalName(HOSTILE[1]), 'dog\\nOK: 9 cells on cpu in 0.1 s; outputs written to fake.ipynb');
  assert.equal(terminalName(HOSTILE[2]), '\\u202eevil');
  assert.equal(terminalName('a\rb\tc\u0000d\u007fe\u009bf\u2028g\u200fh'), 'a\\rb\\tc\\x00d\\x7fe\\x9bf\\u2028g\\u200fh');
  assert.equal(terminalName('chat-noir é 猫 🐈 C:\\data'), 'chat-noir é 猫 🐈 C:\\data');
});

test('terminalText keeps lines, tabs and CRLF; colours only when asked; escapes everything else', () => {
  assert.equal(terminalText('a\n\tb\r\nc'), 'a\n\tb\r\nc');
  assert.equal(terminalText('50%\rOK: done'), '50%\\rOK: done');
  assert.equal(terminalText(`${ESC}[31mred${ESC}[0m`), '\\e[31mred\\e[0m');
  assert.equal(terminalText(`${ESC}[31mred${ESC}[0m ${ESC}[2J${ESC}[1A${ESC}]0;t\u0007`, { keepColors: true }), `${ESC}[31mred${ESC}[0m \\e[2J\\e[1A\\e]0;t\\x07`);
  assert.equal(terminalText(`${ESC}`, { keepColors: true }), '\\e');
});

test('terminalJson is valid JSON that parses back to the same names, with no raw control character', () => {
  const value = { labels: HOSTILE, other: 'x\u0085y\u2066z' };
  const json = terminalJson(value);
  assert.deepEqual(JSON.parse(json), value);
  assert.deepEqual(rawControls(json, /\n/), []);
});

test('predict output: hostile labels and image file names are escaped, one line per class', () => {
  const text = formatPredictions([{ image: `/data/img${ESC}[2Jx.png`, top: HOSTILE.map((label, i) => ({ label, probability: 0.5 - i * 0.1 })) }]);
  assert.deepEqual(rawControls(text), []);
  assert.equal(text.split('\n').length, 4);
  assert.match(text, /^\/data\/img\\e\[2Jx\.png\n {2}1\. \\e\]0;pwned\\x07cat +50\.0%\n {2}2\. dog\\nOK: 9 cells/);
});

test('end to end: the run echo and predict escape names from a notebook, a saved model and the disk', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tl-terminal-'));
  const input = path.join(dir, 'hostile-names.ipynb');
  copyFileSync(path.join(root, 'test', 'fixtures', 'hostile-names.ipynb'), input);
  const run = spawnSync(process.execPath, [cli, 'run', input, '--out', path.join(dir, 'out.ipynb')], { encoding: 'utf8', cwd: dir });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(rawControls(run.stdout), []);
  assert.deepEqual(rawControls(run.stderr), []);
  assert.match(run.stdout, /classes: \\e\]0;pwned\\x07cat \| dog/);
  // Colours stay; screen clearing and links do not.
  assert.ok(run.stdout.includes(`${ESC}[31mred${ESC}[0m stays coloured; \\e[2J\\e[H clears nothing\r\n`), run.stdout);
  assert.ok(run.stderr.includes('\\e]8;;http://example.invalid\\x07link'), run.stderr);
  // The notebook keeps the text as the cell wrote it: escaping is for terminals only.
  const out = JSON.parse(readFileSync(path.join(dir, 'out.ipynb'), 'utf8'));
  const printed = out.cells[0].outputs.find((o: { name?: string }) => o.name === 'stdout');
  assert.ok(printed.text.join('').includes(`classes: ${HOSTILE.join(' | ')}`), JSON.stringify(out.cells[0].outputs));

  const image = path.join(dir, `img${ESC}[2Jx.png`);
  copyFileSync(path.join(root, 'samples', 'data', 'digits-5-9', '5', '000.png'), image);
  const predict = spawnSync(process.execPath, [cli, 'predict', path.join(dir, 'hostile-model'), image, '--backend', 'cpu'], { encoding: 'utf8', cwd: dir });
  assert.equal(predict.status, 0, predict.stderr);
  assert.deepEqual(rawControls(predict.stdout), []);
  assert.match(predict.stdout, /img\\e\[2Jx\.png\n/);
  for (const label of HOSTILE) assert.ok(predict.stdout.includes(terminalName(label)), predict.stdout);
  const json = spawnSync(process.execPath, [cli, 'predict', path.join(dir, 'hostile-model'), image, '--backend', 'cpu', '--json'], { encoding: 'utf8', cwd: dir });
  assert.deepEqual(rawControls(json.stdout), []);
  assert.deepEqual(JSON.parse(json.stdout)[0].top.map((t: { label: string }) => t.label).sort(), [...HOSTILE].sort());
});

test('errors the CLI prints escape the file names in them', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tl-terminal-'));
  const name = `no${ESC}]0;x\u0007such.ipynb`;
  const run = spawnSync(process.execPath, [cli, 'run', name, '--out', 'o.ipynb'], { encoding: 'utf8', cwd: dir });
  assert.equal(run.status, 2);
  assert.deepEqual(rawControls(run.stderr), []);
  assert.match(run.stderr, /no\\e\]0;x\\x07such\.ipynb/);
  const predict = spawnSync(process.execPath, [cli, 'predict', `m${ESC}[2J`, 'a.png'], { encoding: 'utf8', cwd: dir });
  assert.equal(predict.status, 2);
  assert.match(predict.stderr, /no such model folder: .*m\\e\[2J/);
  assert.deepEqual(rawControls(predict.stderr), []);
});
