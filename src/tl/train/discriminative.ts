/**
 * Discriminative learning rates, as fastai's `slice(low, high)`: the trainable blocks, from the
 * earliest to the head, get rates spread geometrically from `low` to `high`.
 *
 * TF.js optimizers have one rate for all their variables, and scaling gradients instead would do
 * nothing under Adam (its step does not depend on the gradient's scale). So each block gets its own
 * optimizer of the same kind, and GroupedOptimizer hands each one its block's gradients. Setting the
 * rate (schedules, lrFind) moves every group's rate by the same factor.
 */
import * as tf from '@tensorflow/tfjs';
import { formatLr } from '../../common/formatLr';
import { blocksOf } from '../inspect';
import { printable } from '../util/text';
import { gradientList, type NamedTensor } from './gradients';
import { trainingLayers } from './whatTrains';

/** One block's variables and its rate as a share of the head's. */
export interface RateGroup {
  block: string;
  variables: string[];
  scale: number;
}

type OptimizerClass = { new (...args: never[]): tf.Optimizer; fromConfig: (cls: unknown, cfg: tf.serialization.ConfigDict) => tf.Optimizer; className: string };

function classNamed(name: string): OptimizerClass {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[name];
  if (!entry) throw new Error(`discriminative rates: unknown optimizer class '${name}'.`);
  return entry[0] as unknown as OptimizerClass;
}

/** A config with `learningRate` set, for any tfjs optimizer (SGD, Adam, RMSProp, …). */
function withRate(cfg: tf.serialization.ConfigDict, lr: number): tf.serialization.ConfigDict {
  return { ...cfg, learningRate: lr };
}

export class GroupedOptimizer extends tf.Optimizer {
  static get className(): string {
    return 'TransferLabGroupedOptimizer';
  }

  /** tf.Optimizer's instanceof accepts any object with an optimizer's methods; this one means this class. */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return typeof x === 'object' && x !== null && GroupedOptimizer.prototype.isPrototypeOf(x);
  }

  private readonly inner: tf.Optimizer[];
  private readonly groupOf = new Map<string, number>();
  private lr: number;

  constructor(
    private readonly template: { className: string; config: tf.serialization.ConfigDict },
    readonly groups: readonly RateGroup[],
    learningRate: number,
  ) {
    super();
    this.lr = learningRate;
    const cls = classNamed(template.className);
    this.inner = groups.map((g) => cls.fromConfig(cls, withRate(template.config, learningRate * g.scale)));
    groups.forEach((g, i) => g.variables.forEach((v) => this.groupOf.set(v, i)));
  }

  /** The head's rate; the other groups' are this times their scale. */
  get learningRate(): number {
    return this.lr;
  }

  set learningRate(lr: number) {
    this.setLearningRate(lr);
  }

  setLearningRate(lr: number): void {
    this.lr = lr;
    this.inner.forEach((opt, i) => {
      const o = opt as unknown as { setLearningRate?: (r: number) => void; learningRate: number };
      const rate = lr * this.groups[i].scale;
      if (typeof o.setLearningRate === 'function') o.setLearningRate(rate);
      else o.learningRate = rate;
    });
  }

  /** The rate each group trains at now. */
  rates(): { block: string; lr: number }[] {
    return this.groups.map((g) => ({ block: g.block, lr: this.lr * g.scale }));
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const list = gradientList(variableGradients);
    const parts: NamedTensor[][] = this.inner.map(() => []);
    for (const g of list) {
      const i = this.groupOf.get(g.name);
      if (i === undefined) throw new Error(`discriminative rates: variable '${printable(g.name)}' is in no rate group; fit again to regroup.`);
      parts[i].push(g);
    }
    // Each inner optimizer sees its group in the same order every step (Adam keeps its moments by position).
    parts.forEach((p, i) => p.length && this.inner[i].applyGradients(p));
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const all = await Promise.all(this.inner.map((o) => o.getWeights()));
    return all.flat();
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    let at = 0;
    for (const o of this.inner) {
      const n = (await o.getWeights()).length;
      await o.setWeights(weightValues.slice(at, at + n));
      at += n;
    }
  }

  override dispose(): void {
    for (const o of this.inner) o.dispose();
    super.dispose();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { template: this.template as unknown as tf.serialization.ConfigDict, groups: this.groups as unknown as tf.serialization.ConfigDictArray, learningRate: this.lr };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const c = config as unknown as { template: GroupedOptimizer['template']; groups: RateGroup[]; learningRate: number };
    return new GroupedOptimizer(c.template, c.groups, c.learningRate) as unknown as T;
  }
}

/** Checks a [low, high] pair; `what` names the option in errors. */
export function checkRange(v: unknown, what: string): [number, number] {
  const ok = Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0) && v[0] <= v[1];
  if (!ok) throw new Error(`${what} must be a number, or [low, high] with 0 < low ≤ high; got ${JSON.stringify(v)}.`);
  return v as [number, number];
}

/**
 * The trainable blocks of `model` in order, each with its variables and its rate as a share of
 * `high`: low/high for the earliest, 1 for the last (the head), geometric in between.
 */
export function rateGroups(model: tf.LayersModel, low: number, high: number): RateGroup[] {
  const list = model.layers;
  const blocks = blocksOf(list);
  const groups: RateGroup[] = [];
  for (const layer of trainingLayers(model)) {
    const block = blocks[list.indexOf(layer)];
    let g = groups[groups.length - 1];
    if (!g || g.block !== block) groups.push((g = { block, variables: [], scale: 1 }));
    g.variables.push(...layer.trainableWeights.map((w) => w.name));
  }
  const n = groups.length;
  groups.forEach((g, k) => (g.scale = n === 1 ? 1 : Math.pow(low / high, (n - 1 - k) / (n - 1))));
  return groups;
}

/** A grouped optimizer of the kind of `like` (its settings, fresh state) with rates from low to high. */
export function groupedOptimizer(model: tf.LayersModel, like: tf.Optimizer, [low, high]: [number, number]): GroupedOptimizer {
  const template = like instanceof GroupedOptimizer ? (like.getConfig().template as unknown as GroupedOptimizer['template']) : { className: like.getClassName(), config: like.getConfig() };
  return new GroupedOptimizer(template, rateGroups(model, low, high), high);
}

/** One optimizer of a grouped optimizer's kind and settings, at one rate for all (fresh state). */
export function plainOptimizer(opt: GroupedOptimizer, lr: number): tf.Optimizer {
  const t = opt.getConfig().template as unknown as GroupedOptimizer['template'];
  const cls = classNamed(t.className);
  return cls.fromConfig(cls, withRate(t.config, lr));
}

/** "discriminative rates: block_15 1e-5, block_16 3.2e-5, head 1e-4" */
export function describeRates(opt: GroupedOptimizer): string {
  return `discriminative rates: ${opt.rates().map((r) => `${printable(r.block)} ${formatLr(r.lr)}`).join(', ')}.`;
}
