/** The typed errors code branches on (src/common/errors.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asWasmOutOfMemory, InterruptedError, WasmOutOfMemoryError } from '../../src/common/errors';
import { InterruptedError as FromTl } from '../../src/tl/output';

const advice = (abort: string) => `during training (${abort}). Use a smaller batchSize.`;

test('a WASM abort is recognised once, as a WasmOutOfMemoryError with the abort and the advice', () => {
  const abort = new Error('Aborted(Cannot enlarge memory arrays to size 2147549184 bytes (OOM).)\nBuild with -sASSERTIONS for more info.');
  const e = asWasmOutOfMemory(abort, 'wasm', advice);
  assert.ok(e instanceof WasmOutOfMemoryError);
  assert.equal(e.abort, 'Aborted(Cannot enlarge memory arrays to size 2147549184 bytes (OOM).)');
  assert.equal(e.message, `The WASM backend ran out of memory during training (${e.abort}). Use a smaller batchSize.`);
  assert.equal(asWasmOutOfMemory(e, 'wasm', advice), e, 'already typed: kept as it is');
});

test("the trap a full 4 GiB heap gives is out of memory too; the same trap below the ceiling is not", () => {
  const trap = new Error('memory access out of bounds');
  const e = asWasmOutOfMemory(trap, 'wasm', advice, 4 * 1024 ** 3);
  assert.ok(e instanceof WasmOutOfMemoryError);
  assert.equal(e.message, 'The WASM backend ran out of memory during training (memory access out of bounds, with the heap at its 4 GiB ceiling). Use a smaller batchSize.');
  assert.equal(asWasmOutOfMemory(trap, 'wasm', advice, 512 * 1024 ** 2), undefined, 'a trap with room left is some other fault');
  assert.equal(asWasmOutOfMemory(trap, 'wasm', advice), undefined, 'heap size unknown');
  assert.equal(asWasmOutOfMemory(trap, 'webgpu', advice, 4 * 1024 ** 3), undefined);
});

test('other errors, and aborts on other backends, are not out-of-memory errors', () => {
  assert.equal(asWasmOutOfMemory(new Error('Aborted(x)'), 'cpu', advice), undefined);
  assert.equal(asWasmOutOfMemory(new Error('shapes do not match'), 'wasm', advice), undefined);
  assert.equal(asWasmOutOfMemory('Aborted(x)', 'webgpu', advice), undefined);
});

test('InterruptedError is one class, matched with instanceof; its name does not decide anything', () => {
  assert.equal(FromTl, InterruptedError);
  const e = new InterruptedError();
  assert.ok(e instanceof InterruptedError && e instanceof Error);
  assert.equal(e.name, 'InterruptedError');
  const lookalike = Object.assign(new Error('Interrupted by the user'), { name: 'InterruptedError' });
  assert.ok(!(lookalike instanceof InterruptedError));
});
