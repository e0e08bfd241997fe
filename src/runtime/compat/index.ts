/**
 * Modules the kernel provides to cells so that notebooks written for other JavaScript kernels run
 * unchanged: `tslab` (tslab's and Deno's display API) and, where the real package is missing or
 * does not load, `@tensorflow/tfjs-node(-gpu)` as the kernel's own `tf`.
 */
import * as tf from '@tensorflow/tfjs';
import { denoJupyter, denoNamespace, type DenoJupyter, type ToBundle } from './deno';
import { tfjsNodeFallback } from './tfjsNode';
import { createTslabModule } from './tslab';

export const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

/** Deno's `npm:` specifiers name npm packages: `npm:pkg@^1/sub` is `pkg/sub`. */
export function npmSpecifier(spec: string): string {
  if (spec.startsWith('jsr:')) throw new Error(`Cannot import '${spec}': jsr: packages come from Deno's registry, which this kernel (Node.js) cannot load; install the package from npm in the notebook's folder instead`);
  if (!spec.startsWith('npm:')) return spec;
  const m = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@[^/]*)?(\/.*)?$/.exec(spec);
  if (!m) throw new Error(`Cannot import '${spec}': not an npm: specifier such as npm:lodash@4`);
  return m[1] + (m[2] ?? '');
}

export class CompatModules {
  private tslabModule?: Record<string, unknown>;
  private jupyterApi?: DenoJupyter;
  private readonly tfNode = new Map<string, unknown>();

  constructor(
    private readonly toBundle: ToBundle,
    private readonly versions: { tslab: string; typescript: string },
  ) {}

  private jupyter(): DenoJupyter {
    return (this.jupyterApi ??= denoJupyter(this.toBundle));
  }

  tslab(): Record<string, unknown> {
    return (this.tslabModule ??= createTslabModule(this.versions, this.jupyter()));
  }

  /** `Deno` in cells of Deno notebooks (only `Deno.jupyter`). */
  deno(): object {
    return denoNamespace(this.jupyter());
  }

  /**
   * The installed package when it loads; else the kernel's `tf` with `tf.node`, and a one-line
   * notice (once per package) that says so and why.
   */
  tfjsNode(spec: string, loadInstalled: () => unknown): unknown {
    if (this.tfNode.has(spec)) return this.tfNode.get(spec);
    let reason: string;
    try {
      const m = loadInstalled();
      this.tfNode.set(spec, m);
      return m;
    } catch (e) {
      const code = (e as { code?: string }).code;
      reason = code === 'MODULE_NOT_FOUND' ? 'is not installed' : `did not load (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`;
    }
    const fallback = tfjsNodeFallback();
    this.tfNode.set(spec, fallback);
    console.error(`Note: ${spec} ${reason}; using the kernel's TensorFlow.js on the '${tf.getBackend()}' backend instead (file:// model save/load, tf.node.decodeImage, encodePng and encodeJpeg work; TensorBoard and SavedModel need the package).`);
    return fallback;
  }
}
