/**
 * LayerNorm over the last dimension with explicit tensors, optionally fused with the SS4Rec block's
 * "dropout + residual add": output = LN(dropout(input) + residual).
 *
 * SS4Rec applies ONE LayerNorm (one gamma/beta) twice per block, so this builder takes the
 * parameter and gradient views explicitly and may be called twice with the same ones: each call
 * ACCUMULATES (+=) its gamma/beta gradient, deterministically (per-workgroup partial sums, then a
 * fixed-order reduce; no float atomics).
 *
 * @module
 */

import { type Command, f32, grid, type Tensor } from "../gpu/runtime.ts";
import type { BuildContext } from "./module.ts";
import { dropoutThreshold } from "../reference/elementwise.ts";

/** Tensors and options of {@linkcode layerNorm}. */
export interface LayerNormIO {
  gamma: Tensor;
  beta: Tensor;
  /** Accumulated (+=) by the backward. */
  gradGamma: Tensor;
  /** Accumulated (+=) by the backward. */
  gradBeta: Tensor;
  /** [rows, dim]: f(x) in the fused form, or the plain LN input. */
  input: Tensor;
  /** [rows, dim]: the residual added after dropout; omit for a plain LN. */
  residual?: Tensor;
  output: Tensor;
  /** Gradient of the output (read by the backward). */
  dOutput: Tensor;
  /** Gradient w.r.t. `input` (overwritten): dz · dropout mask. */
  dInput: Tensor;
  /** Gradient w.r.t. `residual` (overwritten): dz. Required when `residual` is given. */
  dResidual?: Tensor;
  /** Dropout on `input` before the add: p in [0, 1) and a salt unique to this site. */
  dropout?: { p: number; salt: number };
  rows: number;
  dim: number;
  /** SS4Rec uses 1e-12. */
  eps: number;
}

/** What {@linkcode layerNorm} builds. */
export interface BuiltLayerNorm {
  forward: Command[];
  backward: Command[];
  /** [rows, 2] (mean, rstd) per row, written by the forward, read by the backward. */
  stats: Tensor;
}

/** Largest supported dim (64 threads × MAXK = 8 columns each in kernels/layernorm.wgsl). */
export const LAYERNORM_MAX_DIM = 512;

/**
 * Builds z = dropout(input) + residual, output = (z − mean)·rstd·gamma + beta (biased variance,
 * rstd = 1/sqrt(var + eps)), and the backward: dz = rstd·(g − mean(g) − x̂·mean(g·x̂)) with
 * g = dOutput·gamma; dInput = dz·mask, dResidual = dz; gradGamma += Σ dOutput·x̂,
 * gradBeta += Σ dOutput. The backward recomputes z (and the dropout mask) from the inputs, so the
 * inputs must be unchanged between forward and backward. `ctx.step` gives the dropout seed and
 * training flag (dropout is the identity when not training).
 */
export async function layerNorm(
  ctx: Pick<BuildContext, "rt" | "step">,
  io: LayerNormIO,
): Promise<BuiltLayerNorm> {
  const { rt } = ctx;
  const { rows, dim } = io;
  if (dim < 1 || dim > LAYERNORM_MAX_DIM) throw new Error(`layerNorm: dim ${dim} unsupported`);
  const n = rows * dim;
  for (
    const [t, what] of [[io.input, "input"], [io.output, "output"], [io.dOutput, "dOutput"], [
      io.dInput,
      "dInput",
    ]] as const
  ) {
    if (t.size < n) throw new Error(`layerNorm: ${what} has ${t.size} < ${n} elements`);
  }
  const residual = !!io.residual;
  if (residual && !io.dResidual) throw new Error("layerNorm: residual needs dResidual");
  const defines = { RESIDUAL: residual, DROPOUT: !!io.dropout && io.dropout.p > 0 };
  const p = io.dropout?.p ?? 0;
  // forward: a few rows per workgroup keeps the grid modest; backward: about 2,048 parts so the
  // partial-sum buffer stays small (2,048 × 2·dim floats) while filling the GPU
  const rpwF = 4;
  const rpwB = Math.max(1, Math.ceil(rows / 2048));
  const nparts = Math.ceil(rows / rpwB);
  const stats = rt.tensor([rows, 2], "f32", undefined, "ln.stats");
  const partial = rt.tensor([nparts, 2 * dim], "f32", undefined, "ln.partial");
  const common = [
    rows,
    dim,
    f32(io.eps),
    dropoutThreshold(p),
    f32(1 / (1 - p)),
    io.dropout ? io.dropout.salt >>> 0 : 0,
  ];
  const res = io.residual ?? io.input;
  const dRes = io.dResidual ?? io.dInput;
  const fwdK = await rt.kernel("layernorm", "ln_forward", defines);
  const bwdK = await rt.kernel("layernorm", "ln_backward", defines);
  const redK = await rt.kernel("layernorm", "ln_reduce", defines);
  const forward: Command[] = [rt.op(
    fwdK,
    [io.input, res, io.gamma, io.beta, io.output, stats, ctx.step],
    { params: [...common, rpwF, 0], workgroups: grid(Math.ceil(rows / rpwF), 1) },
  )];
  const backward: Command[] = [
    rt.op(
      bwdK,
      [io.input, res, io.gamma, stats, io.dOutput, io.dInput, dRes, partial, ctx.step],
      { params: [...common, rpwB, nparts], workgroups: grid(nparts, 1) },
    ),
    rt.op(redK, [partial, io.gradGamma, io.gradBeta], {
      params: [...common, rpwB, nparts],
      workgroups: grid(2 * dim, 1),
    }),
  ];
  return { forward, backward, stats };
}
