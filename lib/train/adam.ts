/**
 * Fused Adam over the flat parameter buffer (GPU.md rule 3): one dispatch updates every parameter,
 * its first and second moments, reading the 1-based step count from a GPU tensor.
 *
 * Semantics are torch.optim.Adam's (L2 weight decay added to the gradient, bias corrections
 * `1 - β^t`); lib/reference/optim.ts is the float64 reference the tests compare against.
 *
 * @module
 */

import { GradNorm } from "../gpu/reduce.ts";
import { type Command, grid, type Runtime, type Tensor } from "../gpu/runtime.ts";

/** Options of {@linkcode Adam}; defaults are torch's. */
export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** L2 penalty added to the gradient (torch.optim.Adam `weight_decay`, not AdamW). */
  weightDecay?: number;
  /**
   * u32 tensor whose element 0 is the 1-based step count (e.g. the model's per-step scalars
   * [step, seed, training, 0]). When absent Adam owns one and {@linkcode Adam.setStep} writes it.
   */
  step?: Tensor;
  /**
   * f32 tensor whose element `scaleIndex` multiplies every gradient before the update — the clip
   * coefficient written by lib/gpu/reduce.ts `GradNorm`, fused here to save a pass.
   */
  gradScale?: Tensor;
  scaleIndex?: number;
}

/** Serializable optimiser state (for checkpoints). */
export interface AdamState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

/** Fused Adam over a flat parameter buffer and its flat gradient buffer. */
export class Adam {
  /** First moment, same size as the parameters. */
  readonly m: Tensor;
  /** Second moment. */
  readonly v: Tensor;
  /** u32 tensor holding the step count at element 0 (own or shared). */
  readonly step: Tensor;
  /** f32 [lr, β1, β2, eps, wd, 1-β1, 1-β2, ln β1, ln β2]. */
  readonly hyper: Tensor;
  #op: Command | null = null;
  #options: Required<Omit<AdamOptions, "step" | "gradScale" | "scaleIndex">>;
  #ownsStep: boolean;

  /** Allocates the moments (zero) and the hyper-parameter tensor; call {@linkcode init} next. */
  constructor(
    readonly rt: Runtime,
    readonly params: Tensor,
    readonly grads: Tensor,
    readonly options: AdamOptions = {},
  ) {
    if (params.size !== grads.size) {
      throw new Error(`Adam: ${params.size} parameters but ${grads.size} gradients`);
    }
    this.#options = {
      lr: options.lr ?? 1e-3,
      beta1: options.beta1 ?? 0.9,
      beta2: options.beta2 ?? 0.999,
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? 0,
    };
    this.m = rt.tensor([params.size], "f32", new Float32Array(params.size), "adam.m");
    this.v = rt.tensor([params.size], "f32", new Float32Array(params.size), "adam.v");
    this.#ownsStep = !options.step;
    this.step = options.step ?? rt.tensor([4], "u32", [0, 0, 0, 0], "adam.step");
    this.hyper = rt.tensor([12], "f32", undefined, "adam.hyper");
    this.#writeHyper();
  }

  #writeHyper(): void {
    const { lr, beta1, beta2, eps, weightDecay } = this.#options;
    // 1-β and ln β in float64 here: in f32 on the GPU they would lose ~1e-5 relative (β2 = 0.999)
    this.rt.write(this.hyper, [
      lr,
      beta1,
      beta2,
      eps,
      weightDecay,
      1 - beta1,
      1 - beta2,
      Math.log(beta1),
      Math.log(beta2),
      0,
      0,
      0,
    ]);
  }

  /** Compiles the kernel and builds the dispatch (once). */
  async init(): Promise<this> {
    const scale = this.options.gradScale;
    const pipeline = await this.rt.kernel("optim", "adam", {
      HAS_SCALE: !!scale,
      SCALE_INDEX: this.options.scaleIndex ?? 0,
    });
    // the scale binding is statically used even when HAS_SCALE is false: bind a stand-in then
    const tensors = [this.params, this.grads, this.m, this.v, this.step, this.hyper];
    tensors.push(scale ?? this.hyper);
    this.#op = this.rt.op(pipeline, tensors, {
      params: [this.params.size],
      workgroups: grid(this.params.size),
    });
    return this;
  }

  /** The update as a command list (one dispatch); the step count must already be set. */
  ops(): Command[] {
    if (!this.#op) throw new Error("Adam: call await adam.init() before ops()");
    return [this.#op];
  }

  /** Writes the 1-based step count (only when Adam owns its step tensor). */
  setStep(t: number): void {
    if (!this.#ownsStep) throw new Error("Adam: the step tensor is shared; its owner writes it");
    this.rt.write(this.step, [t, 0, 0, 0]);
  }

  /** Changes the learning rate for the next steps (a schedule): one writeBuffer. */
  setLr(lr: number): void {
    this.#options.lr = lr;
    this.#writeHyper();
  }

  /** Reads the moments and step count back (checkpoints; one GPU sync). */
  async state(): Promise<AdamState> {
    const step = (await this.rt.read(this.step))[0];
    const m = await this.rt.read(this.m) as Float32Array;
    const v = await this.rt.read(this.v) as Float32Array;
    return { step, m, v };
  }

  /** Restores moments (and the step count when Adam owns it) from a checkpoint. */
  load(state: AdamState): void {
    this.rt.write(this.m, state.m);
    this.rt.write(this.v, state.v);
    if (this.#ownsStep) this.setStep(state.step);
  }
}

/**
 * The optimiser of a training step over a model's flat buffers: Adam reading the model's step
 * tensor, with optional global-norm clipping fused into the update through the norm's clip
 * coefficient (off in the official config). `commands` run after the step's backward.
 */
export async function modelOptimizer(
  rt: Runtime,
  model: { store: { all: Tensor; gradAll: Tensor }; step: Tensor },
  options: { lr: number; weightDecay: number; clipGradNorm: number | null },
): Promise<{ adam: Adam; commands: Command[] }> {
  const clip = options.clipGradNorm
    ? await new GradNorm(rt, model.store.gradAll, { maxNorm: options.clipGradNorm }).init()
    : null;
  const adam = await new Adam(rt, model.store.all, model.store.gradAll, {
    lr: options.lr,
    weightDecay: options.weightDecay,
    step: model.step,
    gradScale: clip?.out,
    scaleIndex: 1,
  }).init();
  return { adam, commands: [...(clip ? clip.ops() : []), ...adam.ops()] };
}
