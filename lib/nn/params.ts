/**
 * The flat parameter store (GPU.md rule 3): every parameter of a model is a 256-byte aligned view
 * of ONE parameter buffer, with a twin view in ONE gradient buffer, so the optimiser, the gradient
 * norm, the NaN check and the per-step zeroing are single dispatches.
 *
 * Host copies are float64 only at initialisation and at checkpoint load/save.
 *
 * @module
 */

import type { Runtime, Tensor } from "../gpu/runtime.ts";
import type { SafeTensor } from "../io/safetensors.ts";
import type { ParamSpec } from "./module.ts";
import { rng } from "../reference/gradcheck.ts";

/** Parameters and gradients of one model on the GPU. */
export class ParamStore {
  /** The whole parameter buffer as one 1-D tensor. */
  readonly all: Tensor;
  /** The whole gradient buffer as one 1-D tensor (same layout as {@linkcode all}). */
  readonly gradAll: Tensor;
  readonly #params: Map<string, Tensor>;
  readonly #grads: Map<string, Tensor>;

  /** Allocates both buffers for `specs` (names must be unique). */
  constructor(readonly rt: Runtime, readonly specs: readonly ParamSpec[]) {
    const names = new Set<string>();
    for (const s of specs) {
      if (names.has(s.name)) throw new Error(`duplicate parameter name ${s.name}`);
      names.add(s.name);
    }
    const p = rt.flat(specs, "params");
    const g = rt.flat(specs, "grads");
    this.all = p.all;
    this.gradAll = g.all;
    this.#params = p.views;
    this.#grads = g.views;
  }

  /** Number of scalar parameters (a complex value counts as two reals here). */
  get count(): number {
    return this.specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  }

  /** The parameter view of `name`. */
  param(name: string): Tensor {
    const t = this.#params.get(name);
    if (!t) throw new Error(`unknown parameter ${name}`);
    return t;
  }

  /** The gradient view of `name`. */
  grad(name: string): Tensor {
    const t = this.#grads.get(name);
    if (!t) throw new Error(`unknown parameter ${name}`);
    return t;
  }

  /** Draws every parameter from its initialiser with one seeded generator, in spec order. */
  initialise(seed: number): void {
    const rand = rng(seed);
    for (const s of this.specs) this.rt.write(this.param(s.name), s.init(rand));
  }

  /**
   * Loads parameters by name from safetensors tensors (F32 or F64). Names missing from the file or
   * with another shape are errors; extra tensors in the file are ignored.
   */
  load(tensors: Map<string, SafeTensor>, source = "checkpoint"): void {
    for (const s of this.specs) {
      const t = tensors.get(s.name);
      if (!t) throw new Error(`${source}: parameter '${s.name}' is missing`);
      if (t.shape.join() !== s.shape.join()) {
        throw new Error(
          `${source}: parameter '${s.name}' has shape [${t.shape}], expected [${s.shape}]`,
        );
      }
      this.rt.write(this.param(s.name), Array.from(t.data as Float64Array, Number));
    }
  }

  /** Reads all parameters (or gradients) back as F32 safetensors entries, in spec order. */
  async export(which: "params" | "grads" = "params"): Promise<Map<string, SafeTensor>> {
    const flat = await this.rt.read(which === "params" ? this.all : this.gradAll) as Float32Array;
    const out = new Map<string, SafeTensor>();
    for (const s of this.specs) {
      const v = which === "params" ? this.param(s.name) : this.grad(s.name);
      const start = v.offset / 4;
      out.set(s.name, {
        dtype: "F32",
        shape: [...s.shape],
        data: flat.slice(start, start + v.size),
      });
    }
    return out;
  }
}
