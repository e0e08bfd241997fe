/**
 * The hand-written WebAssembly kernels in this folder (*.wat, compiled into *Module.ts by
 * scripts/build-wasm-kernels.mjs), instantiated on the wasm backend's own heap, so that they read
 * and write its tensors in place.
 */
export type HeapFunction = (...args: number[]) => void;

/** The WebAssembly API as used here (Node has it; this project's TypeScript libs do not declare it). */
interface WasmApi {
  Memory: abstract new (...args: never[]) => { buffer: ArrayBufferLike };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
type Memory = InstanceType<WasmApi['Memory']>;

/** Per heap, each module's export by name; null where it could not be made. */
const instances = new WeakMap<Memory, Map<string, HeapFunction | null>>();

/** `name`, exported by the module in `base64`, bound to `backend`'s heap; null where it cannot be. */
export function heapFunction(backend: unknown, base64: string, name: string): HeapFunction | null {
  const memory = (backend as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
  // A threaded build's heap is shared memory, which these modules do not declare.
  if (!(memory instanceof WA.Memory) || !(memory.buffer instanceof ArrayBuffer)) return null;
  let fns = instances.get(memory);
  if (!fns) instances.set(memory, (fns = new Map()));
  if (!fns.has(name)) {
    try {
      const mod = new WA.Module(Buffer.from(base64, 'base64'));
      const fn = new WA.Instance(mod, { env: { memory } }).exports[name];
      fns.set(name, typeof fn === 'function' ? (fn as HeapFunction) : null);
    } catch {
      fns.set(name, null);
    }
  }
  return fns.get(name) ?? null;
}
