/** Shape layers: padding, cropping, nearest upsampling, Flatten and Reshape (the last two in NHWC order). */
import { needs4D, pair, type HandlerTable } from '../emitter';

export const shapeLayers: HandlerTable = {
  ZeroPadding2D: {
    check: needs4D,
    emit: ({ em, g, cfg, x, name, out }) => {
      const [[t, b], [l, r]] = cfg.padding as [[number, number], [number, number]];
      const pads = g.int64s(`${name}/pads`, [0, 0, t, l, 0, 0, b, r]);
      return out(g.one('Pad', [em.nchw(x), pads], name, { mode: { s: 'constant' } }), 'nchw');
    },
  },
  Cropping2D: {
    check: needs4D,
    emit: ({ em, g, cfg, x, name, out }) => {
      const [[t, b], [l, r]] = cfg.cropping as [[number, number], [number, number]];
      const BIG = 2n ** 62n;
      const starts = g.int64s(`${name}/starts`, [t, l]);
      const ends = g.int64s(`${name}/ends`, [b > 0 ? -b : BIG, r > 0 ? -r : BIG]);
      const axes = g.int64s(`${name}/axes`, [2, 3]);
      return out(g.one('Slice', [em.nchw(x), starts, ends, axes], name), 'nchw');
    },
  },
  UpSampling2D: {
    check: (a) => needs4D(a) ?? (a.cfg.interpolation !== 'nearest' ? `'${a.cfg.interpolation}' interpolation (only 'nearest' converts exactly)` : undefined),
    emit: ({ em, g, cfg, x, name, out }) => {
      const [sh, sw] = pair(cfg.size, 2);
      const scales = g.floats(`${name}/scales`, [4], Float32Array.of(1, 1, sh, sw));
      const attrs = { mode: { s: 'nearest' }, coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' } };
      return out(g.one('Resize', [em.nchw(x), '', scales], name, attrs), 'nchw');
    },
  },
  Flatten: {
    emit: ({ em, g, x, name, outShape, out }) => {
      if (x.shape.length === 2) return [{ ...x, shape: outShape }];
      return out(g.one('Flatten', [em.plain(x)], name, { axis: { i: 1 } }), 'plain');
    },
  },
  Reshape: {
    emit: ({ em, g, cfg, x, name, out }) => {
      const target = (cfg.targetShape as (number | null)[]).map((d) => (d === null ? -1 : d));
      return out(g.one('Reshape', [em.plain(x), g.int64s(`${name}/shape`, [0, ...target])], name), 'plain');
    },
  },
};
