/** Pooling: windowed max/average pooling, and global pooling of images (2-D) and sequences (1-D, a head on a rank-3 cut). */
import type { Attr } from '../ir';
import { needs4D, pair, type CheckArgs, type EmitArgs, type HandlerTable, type Val } from '../emitter';

function windowPool({ em, g, cls, cfg, x, name, out }: EmitArgs): Val[] {
  const k = pair(cfg.poolSize, 2);
  const s = pair(cfg.strides ?? cfg.poolSize, 2);
  const attrs = em.convPads(x, cfg.padding, k, s, [1, 1]);
  // TF averages over the window's pixels inside the image only: count_include_pad = 0.
  const extra: Record<string, Attr> = cls === 'AveragePooling2D' ? { count_include_pad: { i: 0 } } : {};
  delete (attrs as Record<string, unknown>).dilations;
  return out(g.one(cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [em.nchw(x)], name, { ...attrs, ...extra }), 'nchw');
}

function globalPool({ em, g, cls, x, name, out }: EmitArgs): Val[] {
  const pooled = g.one(cls === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', [em.nchw(x)], `${name}/pool`);
  return out(g.one('Flatten', [pooled], name, { axis: { i: 1 } }), 'plain');
}

/** Over the steps of a [batch, steps, features] sequence: a reduction on axis 1. */
function globalPool1d({ em, g, cls, x, name, out }: EmitArgs): Val[] {
  const op = cls === 'GlobalAveragePooling1D' ? 'ReduceMean' : 'ReduceMax';
  return out(g.one(op, [em.plain(x)], name, { axes: { ints: [1] }, keepdims: { i: 0 } }), 'plain');
}

const needs3D = ({ rank }: CheckArgs) => (rank !== 3 ? `a ${rank}-D input (expected 3-D)` : undefined);

export const poolingLayers: HandlerTable = {
  MaxPooling2D: { check: needs4D, emit: windowPool },
  AveragePooling2D: { check: needs4D, emit: windowPool },
  GlobalAveragePooling2D: { check: needs4D, emit: globalPool },
  GlobalMaxPooling2D: { check: needs4D, emit: globalPool },
  GlobalAveragePooling1D: { check: needs3D, emit: globalPool1d },
  GlobalMaxPooling1D: { check: needs3D, emit: globalPool1d },
};
