/**
 * The contract every layer follows.
 *
 * A layer declares its parameters ({@linkcode ParamSpec}: name, shape, float64 initialiser). The
 * model lays all of them out in one flat parameter buffer and one flat gradient buffer (GPU.md rule
 * 3) and hands each layer its views through a {@linkcode BuildContext}. `build` allocates the
 * layer's activations for the fixed batch shape and returns its forward and backward dispatch lists.
 *
 * Gradient conventions (so layers compose without extra copies):
 * - parameter gradients ACCUMULATE (`+=`) into their views; the model clears the flat gradient
 *   buffer once at the start of each step;
 * - activation gradients (the `dInput` a layer produces) are OVERWRITTEN; residual sums are added
 *   by the caller.
 *
 * @module
 */

import type { Command, Runtime, Tensor } from "../gpu/runtime.ts";

/** A parameter: its name (dotted, e.g. `model.0.S5.Lambda`), shape, and float64 initialiser. */
export interface ParamSpec {
  name: string;
  shape: number[];
  /** Draws the initial values (row-major, length = product of shape) from a seeded generator. */
  init: (rand: () => number) => Float64Array;
}

/** What a layer needs to build its dispatches. */
export interface BuildContext {
  rt: Runtime;
  /** The parameter view of `name` (as declared by the layer's ParamSpec, with its prefix). */
  param(name: string): Tensor;
  /** The gradient view of `name`. */
  grad(name: string): Tensor;
  /** Batch rows B and (max) sequence length L of every step this build serves. */
  batch: number;
  seqLen: number;
  /** Per-step scalars the host updates before each submit: u32 [step, seed, training, 0]. */
  step: Tensor;
  /**
   * A scratch tensor shared by every layer of this build that asks for the same `key` (sized for
   * the largest request). Only for values that live within ONE layer's forward or within ONE
   * layer's backward dispatch list (written and fully consumed there): the blocks of a model run
   * their backward passes one after another, so such temporaries can share memory. Optional: a
   * layer falls back to its own allocation when a context does not offer it.
   */
  scratch?: (key: string, shape: readonly number[], dtype?: "f32" | "i32" | "u32") => Tensor;
}

/** The tensors a layer is built on; the caller allocates all of them. */
export interface LayerIO {
  /** Input activations, e.g. [B, L, H]. */
  input: Tensor;
  /** Gradient of the loss w.r.t. this layer's output, filled before `backward` runs. */
  dOutput: Tensor;
  /** Time gaps [B, L] (f32 seconds) for time-aware layers. */
  timeGaps?: Tensor;
}

/** A built layer: its output, the gradient of its input, and its dispatches. */
export interface BuiltLayer {
  output: Tensor;
  /** Gradient w.r.t. the (first) input, written by `backward`. */
  dInput: Tensor;
  forward: Command[];
  backward: Command[];
}
