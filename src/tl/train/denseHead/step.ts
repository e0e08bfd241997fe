/**
 * One training step of a Dense chain (chain.ts) on the wasm heap, with the gradients written out
 * by hand: forward products in gemm.wat, the backward ones as wasm's own BatchMatMul with a
 * transposed operand (matMul.ts), bias, ReLU, Dropout, softmax and the loss in JavaScript over
 * the heap. tfjs's loop runs some 110 kernels through its engine and gradient tape for the same
 * step; this runs 3 products per layer. The gradients then go to the model's optimizer, as
 * tfjs's loop gives them (the same variables, in the model's order).
 */
import * as tf from '@tensorflow/tfjs';
import { heapMatMul } from '../../wasm-kernels/gemm';
import { Scratch, type TI } from '../../wasm-kernels/scratch';
import type { NamedTensor } from '../gradients';
import type { DenseChain, DenseLink } from './chain';
import { softmaxCrossEntropy } from './loss';

const f = Math.fround;

/** Columns of a link's output. */
function units(link: DenseLink): number {
  return link.kernel.shape[1] as number;
}

/** What the forward pass keeps for the backward one, per link. */
interface Forward {
  /** The link's input (the previous link's output after its activation and Dropout). */
  input: TI;
  /** d(output)/d(pre-activation) per element: ReLU's step times Dropout's scale (0 where dropped); undefined for the last link. */
  gate?: Float32Array;
}

/** a·b: gemm.wat where it takes the shape, else wasm's BatchMatMul. */
function product(s: Scratch, a: TI, b: TI): TI {
  const out = heapMatMul(s.backend, a, b);
  return out ? s.own(out) : s.run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
}

/** Uniform draws in [0, 1) for a Dropout mask, as tfjs's Dropout draws them (the same ones at every step when seeded). */
export type Draws = (shape: [number, number], seed?: number) => Float32Array;

export const tfjsDraws: Draws = (shape, seed) => tf.tidy(() => tf.randomUniform(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);

/** z·W + b, the activation and Dropout, in place; returns the gate for the backward pass. */
function activate(z: Float32Array, bias: Float32Array | undefined, link: DenseLink, draws: Draws): Float32Array | undefined {
  const n = units(link);
  if (bias) for (let i = 0; i < z.length; i++) z[i] = f(z[i] + bias[i % n]);
  if (link.activation === 'softmax') return undefined;
  const gate = new Float32Array(z.length);
  const rate = link.dropout;
  // tfjs's Dropout: multiplier = floor(u + keep) / keep, in float32.
  const keepProb = f(1 - rate);
  const scale = rate ? f(1 / keepProb) : 1;
  const u = rate ? draws([z.length / n, n], link.dropoutSeed) : undefined;
  for (let i = 0; i < z.length; i++) {
    const step = link.activation === 'relu' ? (z[i] > 0 ? 1 : 0) : 1;
    const keep = u && f(u[i] + keepProb) < 1 ? 0 : scale;
    if (link.activation === 'relu' && z[i] < 0) z[i] = 0;
    z[i] = rate ? f(z[i] * keep) : z[i];
    gate[i] = step * keep;
  }
  return gate;
}

export interface StepResult {
  loss: number;
  acc: number;
}

export class DenseChainStep {
  constructor(
    private readonly chain: DenseChain,
    /** The names of the model's trainable weights, in its order (an optimizer keeps its slots by position). */
    private readonly order: readonly string[],
    private readonly draws: Draws = tfjsDraws,
  ) {}

  /** Forward through every link; returns the logits and what the backward pass needs. */
  private forward(s: Scratch, xs: TI): { logits: Float32Array; saved: Forward[] } {
    const saved: Forward[] = [];
    let h = xs;
    for (const link of this.chain.links) {
      const z = product(s, h, link.kernel);
      const bias = link.bias ? s.view(link.bias).slice() : undefined;
      const gate = activate(s.view(z), bias, link, this.draws);
      saved.push({ input: h, gate });
      h = z;
    }
    return { logits: s.view(h).slice(), saved };
  }

  /** d(loss)/d(weights), from d(loss)/d(logits), as tensors in the order of the chain's weights. */
  private backward(s: Scratch, dLogits: Float32Array, saved: Forward[]): NamedTensor[] {
    const grads: NamedTensor[] = [];
    const rows = saved[0].input.shape[0] as number;
    let dz = s.alloc([rows, dLogits.length / rows]);
    s.view(dz).set(dLogits);
    for (let l = this.chain.links.length - 1; l >= 0; l--) {
      const link = this.chain.links[l];
      const n = units(link);
      const dW = s.keep(s.run('BatchMatMul', { a: saved[l].input, b: dz }, { transposeA: true, transposeB: false }));
      const layerGrads: NamedTensor[] = [{ name: link.kernel.name, tensor: tf.engine().makeTensorFromTensorInfo(dW) }];
      if (link.bias) {
        const db = s.keep(s.alloc([n]));
        const sums = new Float32Array(n);
        const d = s.view(dz);
        for (let i = 0; i < d.length; i++) sums[i % n] = f(sums[i % n] + d[i]);
        s.view(db).set(sums);
        layerGrads.push({ name: link.bias.name, tensor: tf.engine().makeTensorFromTensorInfo(db) });
      }
      grads.unshift(...layerGrads);
      if (l === 0) break;
      const dh = s.run('BatchMatMul', { a: dz, b: link.kernel }, { transposeA: false, transposeB: true });
      const gate = saved[l - 1].gate as Float32Array;
      const v = s.view(dh);
      for (let i = 0; i < v.length; i++) v[i] = f(v[i] * gate[i]);
      dz = dh;
    }
    return grads;
  }

  /** The batch's shapes against the chain's, as tfjs-layers checks them (it reads the heap by these shapes). */
  private check(xs: tf.Tensor, ys: tf.Tensor): void {
    const inputs = this.chain.links[0].kernel.shape[0];
    const classes = units(this.chain.links[this.chain.links.length - 1]);
    if (xs.rank !== 2 || xs.shape[1] !== inputs || xs.dtype !== 'float32') {
      throw new Error(`Error when checking input: expected the head's input to have shape [null,${inputs}] (float32) but got ${xs.dtype} with shape [${xs.shape.join(',')}].`);
    }
    const sparse = this.chain.loss === 'sparse';
    const okY = ys.shape[0] === xs.shape[0] && (sparse ? ys.rank === 1 || (ys.rank === 2 && ys.shape[1] === 1) : ys.rank === 2 && ys.shape[1] === classes);
    if (!okY) throw new Error(`Error when checking target: expected ${sparse ? `[${xs.shape[0]}] or [${xs.shape[0]},1] class indices` : `shape [${xs.shape[0]},${classes}]`} but got [${ys.shape.join(',')}].`);
  }

  /** One step on a batch (class weights scale each row's loss): the optimizer applies the gradients; returns the batch's loss and accuracy. */
  train(xs: tf.Tensor, ys: tf.Tensor, optimizer: tf.Optimizer, classWeight?: Record<number, number>): StepResult {
    this.check(xs, ys);
    const s = new Scratch(tf.backend() as unknown as Scratch['backend']);
    let grads: NamedTensor[] = [];
    try {
      const { logits, saved } = this.forward(s, xs);
      const classes = units(this.chain.links[this.chain.links.length - 1]);
      const r = softmaxCrossEntropy(logits, ys.dataSync() as Float32Array, xs.shape[0] as number, classes, this.chain.loss === 'sparse', classWeight);
      grads = this.backward(s, r.dLogits, saved);
      const byName = new Map(grads.map((g) => [g.name, g]));
      optimizer.applyGradients(this.order.map((name) => byName.get(name) as NamedTensor));
      return { loss: r.loss, acc: r.acc };
    } finally {
      s.free();
      tf.dispose(grads.map((g) => g.tensor));
    }
  }
}
