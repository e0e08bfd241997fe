/**
 * An .onnx file can keep tensors in "external data" files it names by path; ONNX Runtime opens them
 * relative to the model. A hostile file could name /etc/passwd or ../../secret and have its bytes
 * loaded as weights, so before ONNX Runtime sees the file, every tensor in it (initializers, sparse
 * initializers, Constant attributes, subgraphs, functions) is checked: external data must be a
 * regular file inside the model's folder, its offset and length inside that file, and all tensors
 * together within the loading budget.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { budgetHint, formatBytes, quote } from '../models/safety/budget';
import { statInside } from '../models/safety/weightFiles';

const EXTERNAL = 1;
/** Bytes per element by TensorProto.DataType (strings and unknown types count 1, as their bytes are stored inline). */
const ELEMENT_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2 };

interface Named {
  tensor: onnx.ITensorProto;
  where: string;
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof (v as { toNumber?: () => number }).toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

/** Every tensor in `graph` and its subgraphs, each with where it sits, for errors. */
function graphTensors(graph: onnx.IGraphProto | null | undefined, where: string, out: Named[]): void {
  if (!graph) return;
  for (const t of graph.initializer ?? []) out.push({ tensor: t, where: `${where}initializer ${quote(t.name ?? '')}` });
  for (const s of graph.sparseInitializer ?? []) {
    if (s.values) out.push({ tensor: s.values, where: `${where}sparse initializer ${quote(s.values.name ?? '')}` });
    if (s.indices) out.push({ tensor: s.indices, where: `${where}sparse initializer indices ${quote(s.indices.name ?? '')}` });
  }
  nodeTensors(graph.node ?? [], where, out);
}

function nodeTensors(nodes: onnx.INodeProto[], where: string, out: Named[]): void {
  for (const n of nodes) {
    const at = `${where}node ${quote(n.name || n.opType || '?')} `;
    for (const a of n.attribute ?? []) {
      const attr = `${at}attribute ${quote(a.name ?? '')}`;
      if (a.t) out.push({ tensor: a.t, where: attr });
      for (const t of a.tensors ?? []) out.push({ tensor: t, where: attr });
      if (a.sparseTensor?.values) out.push({ tensor: a.sparseTensor.values, where: attr });
      graphTensors(a.g, `${attr} → `, out);
      for (const g of a.graphs ?? []) graphTensors(g, `${attr} → `, out);
    }
  }
}

function externalEntries(t: onnx.ITensorProto): Record<string, string> {
  const kv: Record<string, string> = {};
  for (const e of t.externalData ?? []) if (e.key) kv[e.key] = e.value ?? '';
  return kv;
}

/** Declared bytes of a tensor from its dims and type; throws on dims that are not sizes. */
function declaredBytes(t: onnx.ITensorProto, where: string): number {
  let n = 1;
  for (const d of t.dims ?? []) {
    const v = toNumber(d);
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${where}: dims [${(t.dims ?? []).map(toNumber).join(', ')}] are not sizes.`);
    n *= v;
  }
  return n * (ELEMENT_BYTES[t.dataType ?? 1] ?? 1);
}

/** Checks one external tensor; returns the bytes it reads. */
async function checkExternal(t: onnx.ITensorProto, where: string, root: string, sizes: Map<string, number>): Promise<number> {
  const kv = externalEntries(t);
  const location = kv.location;
  if (!location) throw new Error(`${where} says its data is external but names no "location".`);
  const label = `${where}: external data ${quote(location)}`;
  let size = sizes.get(location);
  if (size === undefined) {
    size = await statInside(root, location, label);
    sizes.set(location, size);
  }
  const offset = kv.offset === undefined ? 0 : Number(kv.offset);
  const length = kv.length === undefined ? size - offset : Number(kv.length);
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || offset + length > size) {
    throw new Error(`${label}: offset ${kv.offset ?? 0} and length ${kv.length ?? '(rest)'} do not lie inside the file's ${size} bytes.`);
  }
  return length;
}

/**
 * Throws a clear error unless every tensor of the ONNX model in `file` keeps its data inside the
 * file or in regular files inside the model's folder, and all tensors fit in `maxBytes`. Returns the
 * file's metadata_props (unchecked text).
 */
export async function checkOnnxData(file: string, bytes: Uint8Array, maxBytes: number): Promise<Record<string, string>> {
  const name = path.basename(file);
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`Could not load ${name} as an ONNX model: ${(e as Error).message}`);
  }
  const tensors: Named[] = [];
  graphTensors(model.graph, '', tensors);
  for (const f of model.functions ?? []) nodeTensors(f.node ?? [], `function ${quote(f.name ?? '')} `, tensors);
  const root = await fsp.realpath(path.dirname(file));
  const sizes = new Map<string, number>();
  let total = 0;
  for (const { tensor, where } of tensors) {
    const at = `${name}: ${where}`;
    const declared = declaredBytes(tensor, at);
    const external = tensor.dataLocation === EXTERNAL || (tensor.externalData?.length ?? 0) > 0;
    total += external ? Math.max(declared, await checkExternal(tensor, at, root, sizes)) : declared;
    if (total > maxBytes) throw new Error(`${at}: the model's tensors take more than ${formatBytes(maxBytes)} in all; ${budgetHint(maxBytes)}.`);
  }
  const props: Record<string, string> = Object.create(null);
  for (const p of model.metadataProps ?? []) if (p.key) props[p.key] = p.value ?? '';
  return props;
}
