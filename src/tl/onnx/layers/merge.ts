/** Merge layers: Concatenate and the element-wise merges, on inputs brought to one layout. */
import type { CheckArgs, EmitArgs, HandlerTable, Val } from '../emitter';

/** TF.js merge class → ONNX op. */
const ELEMENTWISE: Record<string, string> = { Add: 'Sum', Multiply: 'Mul', Average: 'Mean', Maximum: 'Max', Minimum: 'Min', Subtract: 'Sub' };

function sameRanks({ node }: CheckArgs): string | undefined {
  const ranks = new Set(node.inputTensors.map((t) => t.shape.length));
  return ranks.size !== 1 ? `inputs of different ranks` : undefined;
}

function sameShapes(a: CheckArgs): string | undefined {
  const ins = a.node.inputTensors;
  return sameRanks(a) ?? (ins.some((t) => t.shape.slice(1).join() !== ins[0].shape.slice(1).join()) ? `inputs of different shapes (broadcasting)` : undefined);
}

function elementwise({ em, g, cls, ins, name, out }: EmitArgs): Val[] {
  const { names, layout } = em.common(ins);
  const op = ELEMENTWISE[cls];
  if (op === 'Mul' || op === 'Sub') {
    // Binary in ONNX: chained, the last link named after the layer.
    let y = names[0];
    for (let k = 1; k < names.length; k++) y = g.one(op, [y, names[k]], k === names.length - 1 ? name : `${name}/${k}`);
    return out(y, layout);
  }
  return out(names.length === 1 ? names[0] : g.one(op, names, name), layout);
}

export const mergeLayers: HandlerTable = {
  Concatenate: {
    check: sameRanks,
    emit: ({ em, g, cfg, ins, x, name, out }) => {
      const { names, layout } = em.common(ins);
      const probe: Val = { ...x, layout };
      return out(g.one('Concat', names, name, { axis: { i: em.axis(probe, cfg.axis ?? -1) } }), layout);
    },
  },
  ...Object.fromEntries(Object.keys(ELEMENTWISE).map((cls) => [cls, { check: sameShapes, emit: elementwise }])),
};
