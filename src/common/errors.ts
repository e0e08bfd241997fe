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

/**
 * The one place that recognises a WASM out-of-memory abort. Emscripten reports it only as a
 * RuntimeError whose message starts `Aborted(`, so the message is all there is to read; everything
 * else branches on the WasmOutOfMemoryError this returns. `backend`: the tfjs backend that ran.
 */
export function asWasmOutOfMemory(err: unknown, backend: string, advice: (abort: string) => string): WasmOutOfMemoryError | undefined {
  if (err instanceof WasmOutOfMemoryError) return err;
  if (backend !== 'wasm') return undefined;
  const msg = err instanceof Error ? err.message : String(err);
  if (!/Aborted\(/.test(msg)) return undefined;
  const abort = msg.split('\n')[0];
  return new WasmOutOfMemoryError(abort, advice(abort));
}
