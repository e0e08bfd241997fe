/**
 * What an ONNX sentence encoder's graph must look like (checked before it runs, as untrusted input):
 * inputs input_ids and attention_mask (token_type_ids optional, nothing else), integer [batch,
 * sequence] tensors; the pooled output float32 [batch, sequence, hidden] token vectors (as BERT's
 * last_hidden_state) or [batch, hidden] sentence vectors. The embedding table's rows are read from
 * the graph where it can be found, so that a tokenizer giving ids beyond it is refused at load.
 */
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import type { OrtSession } from '../onnx/ort';

export const ENCODER_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
const PREFERRED_OUTPUTS = ['last_hidden_state', 'token_embeddings', 'sentence_embedding'];

export interface EncoderIo {
  /** Input name → its integer type. */
  inputs: Map<string, 'int64' | 'int32'>;
  output: string;
  /** 3: token vectors to pool; 2: one vector a text already. */
  rank: 2 | 3;
  /** The hidden size when the graph states it. */
  dim?: number;
}

interface ValueMeta {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

function metas(session: OrtSession, which: 'input' | 'output'): ValueMeta[] {
  return [...(which === 'input' ? session.inputMetadata : session.outputMetadata)] as unknown as ValueMeta[];
}

/** The graph's inputs and chosen output, checked; throws a clear error naming the file otherwise. */
export function encoderIo(session: OrtSession, file: string, output?: string): EncoderIo {
  const name = path.basename(file);
  const ins = metas(session, 'input');
  const names = ins.map((m) => m.name);
  const unknown = names.filter((n) => !(ENCODER_INPUTS as readonly string[]).includes(n));
  const missing = ['input_ids', 'attention_mask'].filter((n) => !names.includes(n));
  if (unknown.length || missing.length) {
    throw new Error(
      `${name}: a sentence encoder takes input_ids and attention_mask (and optionally token_type_ids); this graph takes ${names.map((n) => JSON.stringify(n)).join(', ') || 'nothing'}` +
        `${missing.length ? `, without ${missing.join(' and ')}` : ''}. Export the model with those input names (torch.onnx.export input_names, or optimum's feature-extraction export).`,
    );
  }
  const inputs = new Map<string, 'int64' | 'int32'>();
  for (const m of ins) {
    if (!m.isTensor || (m.type !== 'int64' && m.type !== 'int32') || (m.shape && m.shape.length !== 2)) {
      throw new Error(`${name}: input '${m.name}' is ${m.isTensor ? `${m.type} [${(m.shape ?? []).join(', ')}]` : 'not a tensor'}; a sentence encoder's inputs are int64 (or int32) [batch, sequence].`);
    }
    inputs.set(m.name, m.type);
  }
  const outs = metas(session, 'output');
  const chosen = output ?? PREFERRED_OUTPUTS.find((p) => outs.some((o) => o.name === p)) ?? outs[0]?.name;
  const meta = outs.find((o) => o.name === chosen);
  if (!meta) throw new Error(`${name}: no output named ${JSON.stringify(chosen)}; its outputs: ${outs.map((o) => o.name).join(', ')}.`);
  const shape = meta.shape ?? [];
  if (!meta.isTensor || meta.type !== 'float32' || (shape.length !== 2 && shape.length !== 3)) {
    throw new Error(`${name}: output '${meta.name}' is ${meta.isTensor ? `${meta.type} [${shape.join(', ')}]` : 'not a tensor'}; a sentence encoder gives float32 [batch, sequence, hidden] token vectors or [batch, hidden] sentence vectors.`);
  }
  const last = shape[shape.length - 1];
  return { inputs, output: meta.name, rank: shape.length as 2 | 3, dim: typeof last === 'number' && last > 0 ? last : undefined };
}

function toNumber(v: unknown): number {
  return typeof v === 'number' ? v : Number(String(v));
}

/**
 * Rows of the word-embedding table: the initializer a Gather reads with input_ids (directly or
 * after a Cast). Undefined when the graph hides it (then an id past the table fails in ONNX Runtime,
 * and that error is reported with both files named).
 */
export function embeddingRows(bytes: Uint8Array): number | undefined {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch {
    return undefined;
  }
  const graph = model.graph;
  if (!graph) return undefined;
  const ids = new Set(['input_ids']);
  for (const n of graph.node ?? []) if (n.opType === 'Cast' && ids.has(n.input?.[0] ?? '')) for (const o of n.output ?? []) ids.add(o);
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  for (const n of graph.node ?? []) {
    if (n.opType !== 'Gather' || !ids.has(n.input?.[1] ?? '')) continue;
    const table = inits.get(n.input?.[0] ?? '');
    const rows = table?.dims?.length === 2 ? toNumber(table.dims[0]) : NaN;
    if (Number.isSafeInteger(rows) && rows > 0) return rows;
  }
  return undefined;
}
