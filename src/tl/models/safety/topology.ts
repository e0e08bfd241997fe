/**
 * The shape of a graph model's topology, checked before TF.js reads it: its converter trusts the
 * file and fails with "Cannot read properties of undefined" on a missing field. Every node needs a
 * name and an op; inputs are names; attributes are an object.
 */
import { quote } from './budget';

const MAX_NODES = 1_000_000;

export function checkGraphTopology(topology: unknown, where: string): void {
  const t = topology as { node?: unknown; versions?: unknown; library?: unknown };
  if (typeof t !== 'object' || t === null || Array.isArray(t) || !Array.isArray(t.node)) {
    throw new Error(`${where}: a graph model's "modelTopology" must be an object with a "node" list.`);
  }
  if (typeof t.versions !== 'object' || t.versions === null) throw new Error(`${where}: modelTopology has no "versions" (every converted graph model has them).`);
  if (t.node.length > MAX_NODES) throw new Error(`${where}: modelTopology has ${t.node.length} nodes; at most ${MAX_NODES} are loaded.`);
  t.node.forEach((n: unknown, i) => {
    const node = n as { name?: unknown; op?: unknown; input?: unknown; attr?: unknown };
    const at = `${where}: modelTopology.node[${i}]`;
    if (typeof n !== 'object' || n === null || typeof node.name !== 'string' || typeof node.op !== 'string') {
      throw new Error(`${at} needs a "name" and an "op".`);
    }
    if (node.input !== undefined && !(Array.isArray(node.input) && node.input.every((x) => typeof x === 'string'))) {
      throw new Error(`${at} (${quote(node.name)}): "input" must be a list of node names.`);
    }
    if (node.attr !== undefined && (typeof node.attr !== 'object' || node.attr === null || Array.isArray(node.attr))) {
      throw new Error(`${at} (${quote(node.name)}): "attr" must be an object.`);
    }
  });
}
