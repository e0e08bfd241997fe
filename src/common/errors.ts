/**
 * Errors that code branches on. Each is a class, matched with `instanceof`, never by its message or
 * its name. No tfjs, no vscode: the kernel process, the tl core and the host all import these.
 */

/** Thrown when training or a cell stops because the user interrupted it. */
export class InterruptedError extends Error {
  constructor(message = 'Interrupted by the user') {
    super(message);
    this.name = 'InterruptedError';
  }
}

/** The WASM backend's heap could not grow: emscripten aborted the module. */
export class WasmOutOfMemoryError extends Error {
  constructor(
    /** The abort message emscripten gave. */
    readonly abort: string,
    advice: string,
  ) {
    super(`The WASM backend ran out of memory ${advice}`);
    this.name = 'WasmOutOfMemoryError';
  }
}

/** A 32-bit WASM heap grows to 4 GiB at most. */
export const WASM_HEAP_LIMIT = 4 * 1024 ** 3;

/**
 * The one place that recognises a WASM out-of-memory failure. Emscripten reports it as a
 * RuntimeError whose message starts `Aborted(`, or, once the heap has grown to its 4 GiB ceiling,
 * as the trap "memory access out of bounds" (measured: a MobileNetV2 step at 224 px, batch 32,
 * every layer trained, with 4.6 GiB of tensors). The message is all there is to read, so the trap
 * counts only when `heapBytes` (the heap's size when it was caught) is at that ceiling; everything
 * else branches on the WasmOutOfMemoryError this returns. `backend`: the tfjs backend that ran.
 */
export function asWasmOutOfMemory(err: unknown, backend: string, advice: (abort: string) => string, heapBytes?: number): WasmOutOfMemoryError | undefined {
  if (err instanceof WasmOutOfMemoryError) return err;
  if (backend !== 'wasm') return undefined;
  const msg = err instanceof Error ? err.message : String(err);
  const first = msg.split('\n')[0];
  if (/Aborted\(/.test(msg)) return new WasmOutOfMemoryError(first, advice(first));
  const atCeiling = heapBytes !== undefined && heapBytes >= WASM_HEAP_LIMIT - 64 * 1024 ** 2;
  if (!atCeiling || !/memory access out of bounds/.test(msg)) return undefined;
  const abort = `${first}, with the heap at its ${WASM_HEAP_LIMIT / 1024 ** 3} GiB ceiling`;
  return new WasmOutOfMemoryError(abort, advice(abort));
}
