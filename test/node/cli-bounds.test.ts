/**
 * The headless runner is bounded and careful: stray errors and process.exit in cells, --timeout,
 * signals, the --out checks made before anything runs, --in-place, and a backend that is not there.
 * Each case runs a notebook from test/fixtures through dist/cli.js, as a user runs it.
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { validateNotebook } from './nbformat';

const root = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(root, 'dist', 'cli.js');
const fixtures = path.join(root, 'test', 'fixtures');

/** A fresh folder holding a copy of the fixture; returns the copy's path. */
function fixture(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `tl-bounds-${name}-`));
  const file = path.join(dir, `${name}.ipynb`);
  copyFileSync(path.join(fixtures, `${name}.ipynb`), file);
  return file;
}

function cliSync(args: string[], cwd: string, timeout = 60_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cli, 'run', ...args], { encoding: 'utf8', cwd, timeout });
}

function codeCells(file: string): any[] {
  const nb = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual(validateNotebook(nb), []);
  return nb.cells.filter((c: any) => c.cell_type === 'code');
}

const text = (o: any) => (Array.isArray(o.text) ? o.text.join('') : o.text);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function gone(pid: number, withinMs: number): Promise<boolean> {
  for (const end = Date.now() + withinMs; Date.now() < end; await sleep(100)) if (!alive(pid)) return true;
  return !alive(pid);
}

test('stray errors: a floating tl.load and a timer throw are recorded on the cell that raised them; the next cell still has its variables; exit 1', () => {
  const input = fixture('stray-errors');
  const out = input.replace(/\.ipynb$/, '.out.ipynb');
  const r = cliSync([input, '--out', out], path.dirname(input));
  assert.equal(r.status, 1, r.stderr);
  const [first, second, third] = codeCells(out);
  const errors = first.outputs.filter((o: any) => o.output_type === 'error');
  assert.equal(errors.length, 2, JSON.stringify(first.outputs));
  const load = errors.find((e: any) => /no-such-model-anywhere/.test(e.evalue));
  assert.ok(load, 'the floating tl.load rejection is on cell 1');
  assert.match(load.traceback[0], /^Unhandled promise rejection in Cell 1, after the cell had finished/);
  const timer = errors.find((e: any) => e.ename === 'TypeError');
  assert.match(timer.traceback[0], /^Uncaught exception in Cell 1, after the cell had finished, thrown from a callback/);
  // The kernel lived on: the next cell ran and saw cell 1's variable.
  assert.equal(text(second.outputs[0]), 'still here\n');
  // The run stops after a failure; the cell after keeps what it had.
  assert.equal(text(third.outputs[0]), 'output from an earlier run\n');
  assert.equal(third.execution_count, 99);
  assert.match(r.stdout, /FAILED: 2 cells on \w+ .*cell 1 failed, 1 cell after it did not run/);
});

test('process.exit in a cell ends the kernel; the cell keeps its last output and an error naming the call', () => {
  const input = fixture('process-exit');
  const out = input.replace(/\.ipynb$/, '.out.ipynb');
  const r = cliSync([input, '--out', out], path.dirname(input));
  assert.equal(r.status, 1);
  const [cell, after] = codeCells(out);
  assert.equal(text(cell.outputs[0]), 'last words\nno newline yet');
  assert.equal(cell.outputs[1].output_type, 'error');
  assert.match(cell.outputs[1].evalue, /^process\.exit\(4\) was called in Cell 1: the kernel process ended/);
  assert.equal(text(after.outputs[0]), 'output from an earlier run\n');
});

test('--timeout interrupts a cell that runs too long, records a timeout error and exits 1', () => {
  const input = fixture('slow-cells');
  const out = input.replace(/\.ipynb$/, '.out.ipynb');
  const started = Date.now();
  const r = cliSync([input, '--out', out, '--backend', 'cpu', '--timeout', '1'], path.dirname(input));
  assert.equal(r.status, 1, r.stderr);
  assert.ok(Date.now() - started < 20_000, 'bounded by the timeout, not the 60 s the cell waits');
  const [pid, waits, after] = codeCells(out);
  assert.match(text(pid.outputs[0]), /^kernel pid \d+/);
  assert.equal(text(waits.outputs[0]), 'waiting\n');
  const err = waits.outputs.at(-1);
  assert.equal(err.ename, 'CellTimeoutError');
  assert.equal(err.evalue, 'Cell 2 ran longer than --timeout 1 s; it was interrupted.');
  assert.equal(text(after.outputs[0]), 'output from an earlier run\n');
  assert.match(r.stderr, /Cell 2 failed \(timed out\)/);
});

test('--timeout kills a kernel stuck in synchronous code and says so', async () => {
  const input = fixture('stuck-cell');
  const out = input.replace(/\.ipynb$/, '.out.ipynb');
  const r = cliSync([input, '--out', out, '--backend', 'cpu', '--timeout', '1'], path.dirname(input));
  assert.equal(r.status, 1, r.stderr);
  const [pid, spins] = codeCells(out);
  assert.equal(text(spins.outputs[0]), 'spinning\n');
  assert.match(spins.outputs.at(-1).evalue, /ran longer than --timeout 1 s; it did not answer the interrupt within 2 s, so the kernel process was killed/);
  assert.ok(await gone(Number(/kernel pid (\d+)/.exec(text(pid.outputs[0]))![1]), 3000), 'the kernel process is gone');
});

test('--timeout interrupts a cell whose value never finishes displaying', async () => {
  const input = fixture('display-hangs');
  const out = input.replace(/\.ipynb$/, '.out.ipynb');
  const started = Date.now();
  const r = cliSync([input, '--out', out, '--backend', 'cpu', '--timeout', '3'], path.dirname(input), 40_000);
  assert.equal(r.status, 1, `exit ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
  assert.ok(Date.now() - started < 30_000, 'bounded by the timeout');
  const [pid, shows, after] = codeCells(out);
  assert.equal(text(shows.outputs[0]), 'showing\n');
  const err = shows.outputs.at(-1);
  assert.equal(err.ename, 'CellTimeoutError');
  // The kernel ends the cell itself: the display step is interruptible, the kernel lives.
  assert.equal(err.evalue, 'Cell 2 ran longer than --timeout 3 s; it was interrupted.');
  assert.equal(text(after.outputs[0]), 'output from an earlier run\n');
  assert.ok(await gone(Number(/kernel pid (\d+)/.exec(text(pid.outputs[0]))![1]), 3000), 'the kernel process is gone');
});

test('--timeout kills a kernel that answers the interrupt but whose cell never ends, and says so', async () => {
  const input = fixture('fit-never-ends');
  const out = input.replace(/\.ipynb$/, '.out.ipynb');
  const started = Date.now();
  const r = cliSync([input, '--out', out, '--backend', 'cpu', '--timeout', '3'], path.dirname(input), 40_000);
  assert.equal(r.status, 1, `exit ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
  assert.ok(Date.now() - started < 30_000, 'bounded by the timeout and the kill deadline');
  const [pid, fits, after] = codeCells(out);
  assert.equal(text(fits.outputs.find((o: any) => o.name === 'stdout')), 'fitting\n');
  const err = fits.outputs.at(-1);
  assert.equal(err.ename, 'CellTimeoutError');
  assert.match(err.evalue, /^Cell 2 ran longer than --timeout 3 s; it answered the interrupt but did not end within \d+ s, so the kernel process was killed\.$/);
  assert.equal(text(after.outputs[0]), 'output from an earlier run\n');
  assert.ok(await gone(Number(/kernel pid (\d+)/.exec(text(pid.outputs[0]))![1]), 3000), 'the kernel process is gone');
});

test('--timeout needs a positive number no larger than a timer can hold, checked before anything runs', () => {
  const input = fixture('marker');
  const dir = path.dirname(input);
  const cases: [string, RegExp][] = [
    ['soon', /--timeout needs a number of seconds above 0, not "soon"/],
    ['0', /--timeout needs a number of seconds above 0, not "0"/],
    ['-5', /--timeout needs a number of seconds above 0, not "-5"/],
    ['Infinity', /--timeout needs a number of seconds above 0, not "Infinity"/],
    ['NaN', /--timeout needs a number of seconds above 0, not "NaN"/],
    // Over 2^31-1 ms Node fires a timer at once: every cell would be interrupted as it starts.
    ['2147484', /--timeout 2147484 is too long: at most 2147483 seconds/],
    ['1e10', /--timeout 1e10 is too long: at most 2147483 seconds/],
  ];
  for (const [value, message] of cases) {
    const r = cliSync([input, '--out', 'x.ipynb', '--timeout', value], dir);
    assert.equal(r.status, 2, `${value}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(existsSync(path.join(dir, 'ran.marker')), false, `--timeout ${value}: a cell ran`);
  }
  // The largest value is a real limit: the cell runs to its end, not interrupted at once.
  const r = cliSync([input, '--out', 'x.ipynb', '--timeout', '2147483', '--quiet'], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(existsSync(path.join(dir, 'ran.marker')), true);
});

/** Starts a run, waits until the kernel prints its pid, then signals the runner. */
async function runAndSignal(name: string, signal: NodeJS.Signals, viaTimeout = false) {
  const input = fixture(name);
  const out = input.replace(/\.ipynb$/, '.out.ipynb');
  const args = [cli, 'run', input, '--out', out, '--backend', 'cpu'];
  // `timeout` signals its command when the time is up; --preserve-status passes our exit status on.
  // 12 s leaves a loaded machine time to start the kernel and reach cell 2 (which waits 60 s); 4 s did not.
  const child = viaTimeout ? spawn('timeout', ['--preserve-status', '-s', signal, '12', process.execPath, ...args], { cwd: path.dirname(input) }) : spawn(process.execPath, args, { cwd: path.dirname(input) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  for (let i = 0; i < 200 && !/spinning|waiting/.test(stdout); i++) await sleep(100);
  if (!viaTimeout) child.kill(signal);
  const code = await exited;
  const kernelPid = Number(/kernel pid (\d+)/.exec(stdout)?.[1]);
  return { code, stdout, stderr, out, kernelPid };
}

for (const [signal, status, name, viaTimeout] of [
  ['SIGTERM', 143, 'slow-cells', true],
  ['SIGINT', 130, 'slow-cells', false],
  ['SIGHUP', 129, 'stuck-cell', false],
] as const) {
  test(`${signal}${viaTimeout ? ' (from `timeout`)' : ''} writes the notebook with what ran, ends the kernel and exits ${status}`, async () => {
    const r = await runAndSignal(name, signal, viaTimeout);
    assert.equal(r.code, status, r.stderr);
    assert.ok(r.kernelPid > 0, r.stdout);
    const [pid, running, after] = codeCells(r.out);
    assert.match(text(pid.outputs[0]), /^kernel pid/);
    assert.match(text(running.outputs[0]), /^(waiting|spinning)\n$/);
    assert.equal(running.outputs.at(-1).ename, 'RunStopped');
    assert.equal(running.outputs.at(-1).evalue, `The run was stopped by ${signal} while Cell 2 ran; the cells after it did not run.`);
    assert.equal(text(after.outputs[0]), 'output from an earlier run\n');
    assert.match(r.stdout, /STOPPED: 2 cells/);
    assert.ok(await gone(r.kernelPid, 3000), 'no kernel is left behind');
  });
}

test('a runner killed outright (SIGKILL) leaves no kernel behind, even one stuck in synchronous code', async () => {
  const r = await runAndSignal('stuck-cell', 'SIGKILL');
  assert.equal(r.code, null);
  assert.ok(r.kernelPid > 0, r.stdout);
  assert.ok(await gone(r.kernelPid, 5000), 'the orphaned kernel ended itself');
});

test('--out is checked before anything runs: a folder, the input itself, a place that cannot be written', () => {
  const input = fixture('marker');
  const dir = path.dirname(input);
  mkdirSync(path.join(dir, 'results'));
  const cases: [string[], RegExp][] = [
    [['--out', 'results'], /--out results is a folder; give a file name, for example --out results\/marker\.out\.ipynb/],
    [['--out', input], /is the input notebook; writing over it needs --in-place/],
    [['--out', './marker.ipynb'], /--out \.\/marker\.ipynb is the input notebook/],
    [['--out', 'marker.ipynb/sub/out.ipynb'], /cannot write --out .*marker\.ipynb\/sub\/out\.ipynb: ENOTDIR/],
    [['--out', '/proc/no/such/dir/out.ipynb'], /cannot write --out \/proc\/no\/such\/dir\/out\.ipynb: ENOENT/],
    [[], /say where the executed notebook goes: --out <file\.ipynb>, or --in-place/],
    [['--out', 'x.ipynb', '--in-place'], /--out and --in-place exclude each other/],
  ];
  symlinkSync(input, path.join(dir, 'link.ipynb'));
  cases.push([['--out', 'link.ipynb'], /--out link\.ipynb is the input notebook/]);
  for (const [args, message] of cases) {
    const r = cliSync([input, ...args], dir);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(existsSync(path.join(dir, 'ran.marker')), false, `${args.join(' ')}: a cell ran`);
  }
  assert.equal(readFileSync(input, 'utf8'), readFileSync(path.join(fixtures, 'marker.ipynb'), 'utf8'), 'the input is untouched');
});

test('--in-place writes the outputs into the notebook; cells after a failure keep their outputs', () => {
  const input = fixture('stray-errors');
  const r = cliSync([input, '--in-place'], path.dirname(input));
  assert.equal(r.status, 1, r.stderr);
  const [first, second, third] = codeCells(input);
  assert.ok(first.outputs.some((o: any) => o.output_type === 'error'));
  assert.equal(text(second.outputs[0]), 'still here\n');
  assert.equal(text(third.outputs[0]), 'output from an earlier run\n');
  assert.match(r.stdout, /outputs written to stray-errors\.ipynb/);
});

test('a requested backend that is not available says so, why, and names the one that ran', () => {
  const input = fixture('marker');
  const out = path.join(path.dirname(input), 'out.ipynb');
  const r = cliSync([input, '--out', out, '--backend', 'tensorflow', '--quiet'], path.dirname(input));
  assert.equal(r.status, 0, r.stderr);
  const m = /transfer-lab: backend "tensorflow" \(command line\) is not available: not installed[^\n]*; the notebook ran on (\w[\w-]*) \(/.exec(r.stderr);
  assert.ok(m, r.stderr);
  assert.notEqual(m[1], 'tensorflow');
  assert.match(r.stdout, new RegExp(`OK: 1 cells on ${m[1]} `));
});
