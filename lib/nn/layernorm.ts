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
  /** Accumulated (+=) by the backward (gradients: required unless the build is forward-only). */
  gradGamma?: Tensor;
  /** Accumulated (+=) by the backward. */
  gradBeta?: Tensor;
  /**
   * [dim]: the backward also ADDS Σ_rows dInput·residual per column into it — the gradient of a
   * per-column weight D of a skip term D·residual inside `input` (S5's y = x·C̃ᵀ + D·u, u being
   * the block input that is also the residual), from values this backward has at hand; the layer
   * then leaves it out (`LayerIO.skipGradByCaller`). Needs `residual`.
   */
  gradSkip?: Tensor;
  /**
   * [dim], that skip term's weight D: the backward writes dResidual = dz + D·dInput, the skip
   * term's share of the residual's gradient, for an S5 layer whose own input gradient leaves it
   * out (`LayerIO.lookup.grad`). Needs `residual`.
   */
  skipAdd?: Tensor;
  /** [rows, dim]: f(x) in the fused form, or the plain LN input. */
  input: Tensor;
  /** [rows, dim]: the residual added after dropout; omit for a plain LN. */
  residual?: Tensor;
  output: Tensor;
  /** Gradient of the output (read by the backward). */
  dOutput?: Tensor;
  /** Gradient w.r.t. `input` (overwritten): dz · dropout mask. */
  dInput?: Tensor;
  /**
   * Gradient w.r.t. `residual` (overwritten): dz. Required when `residual` is given (unless
   * forward-only).
   */
  dResidual?: Tensor;
  /** Dropout on `input` before the add: p in [0, 1) and a salt unique to this site. */
  dropout?: {
    p: number;
    salt: number;
    /**
     * Rows are sequences of `length` positions that stand for the first `length` of
     * `paddedLength` (a batch trimmed to its longest row): masks are drawn as for the padded
     * layout, so trimming does not change them. Default: rows are indexed as they are.
     */
    frame?: { length: number; paddedLength: number };
  };
  rows: number;
  dim: number;
  /** SS4Rec uses 1e-12. */
  eps: number;
}

/** What {@linkcode layerNorm} builds. */
export interface BuiltLayerNorm {
  forward: Command[];
  backward: Command[];
  /**
   * [rows, 2] (mean, rstd) per row, written by the forward, read by the backward (forward-only:
   * the build's shared scratch when it has one, since nothing reads them).
   */
  stats: Tensor;
}

/** Largest supported dim (columns per lane are held in registers). */
export const LAYERNORM_MAX_DIM = 512;

/** Tuning knobs of {@linkcode layerNorm} (defaults chosen per shape; tests force each path). */
export interface LayerNormTuning {
  /** Threads per row: 1 (a whole row in one thread's registers), 2, 4, 8, 16 or 32. */
  lanes?: number;
  /** vec4 loads and stores (needs dim % 4 == 0 and 16-byte aligned views; default: when possible). */
  vec4?: boolean;
  /** Backward: rows groups walked per workgroup (default: about 2,048 workgroups in all). */
  groupsPerPart?: number;
}

const LANE_CHOICES = [1, 2, 4, 8, 16, 32];

/**
 * Default threads per row. On a GPU: one unit (vec4 or float) per lane up to 32 lanes, so a warp
 * reads whole rows contiguously (dim = 64: 16 lanes of one vec4, 16 rows per workgroup, 2 rows per
 * warp). On a software adapter (llvmpipe), where a barrier costs a switch through every
 * invocation, fewer lanes with more columns each (dim = 64: 4 lanes of 4 vec4s) ran 3-4× faster.
 */
function defaultLanes(units: number, software: boolean): number {
  const want = software ? Math.ceil(units / 4) : units;
  return LANE_CHOICES.find((c) => c >= want) ?? 32;
}

/**
 * Builds z = dropout(input) + residual, output = (z − mean)·rstd·gamma + beta (biased variance,
 * rstd = 1/sqrt(var + eps)), and the backward: dz = rstd·(g − mean(g) − x̂·mean(g·x̂)) with
 * g = dOutput·gamma; dInput = dz·mask, dResidual = dz (+ skipAdd·dInput); gradGamma += Σ dOutput·x̂,
 * gradBeta += Σ dOutput (and gradSkip += Σ dInput·residual). The backward recomputes z (and the
 * dropout mask) from the inputs, so the inputs must be unchanged between forward and backward.
 * `ctx.step` gives the dropout seed and training flag (dropout is the identity when not
 * training). With `ctx.forwardOnly` the gradient tensors may be omitted, and the backward is
 * neither built nor allocated.
 *
 * Kernels (kernels/layernorm.wgsl): 256-thread workgroups holding 256/lanes rows side by side, each
 * row's sums through a small workgroup array with one barrier per sum; the backward keeps the
 * gamma/beta column sums of its rows in registers and writes one partial per workgroup.
 */
export async function layerNorm(
  ctx: Pick<BuildContext, "rt" | "step" | "forwardOnly" | "scratch">,
  io: LayerNormIO & LayerNormTuning,
): Promise<BuiltLayerNorm> {
  const { rt } = ctx;
  const { rows, dim } = io;
  const fwdOnly = !!ctx.forwardOnly;
  if (dim < 1 || dim > LAYERNORM_MAX_DIM) throw new Error(`layerNorm: dim ${dim} unsupported`);
  const n = rows * dim;
  for (
    const [t, what] of [[io.input, "input"], [io.output, "output"], [io.dOutput, "dOutput"], [
      io.dInput,
      "dInput",
    ]] as const
  ) {
    if (!t && fwdOnly) continue;
    if (!t) throw new Error(`layerNorm: ${what} is required unless the build is forward-only`);
    if (t.size < n) throw new Error(`layerNorm: ${what} has ${t.size} < ${n} elements`);
  }
  if (!fwdOnly && !(io.gradGamma && io.gradBeta)) {
    throw new Error("layerNorm: gradGamma and gradBeta are required unless forward-only");
  }
  const residual = !!io.residual;
  if (residual && !io.dResidual && !fwdOnly) {
    throw new Error("layerNorm: residual needs dResidual");
  }
  if (io.gradSkip && !(residual && io.gradSkip.size === dim)) {
    throw new Error(`layerNorm: gradSkip needs a residual and ${dim} elements`);
  }
  if (io.skipAdd && !(residual && io.skipAdd.size === dim)) {
    throw new Error(`layerNorm: skipAdd needs a residual and ${dim} elements`);
  }
  const res = io.residual ?? io.input;
  const dRes = io.dResidual ?? io.dInput;
  const aligned = [
    io.input,
    res,
    io.gamma,
    io.beta,
    io.output,
    io.dOutput,
    io.dInput,
    dRes,
    io.skipAdd,
  ]
    .every((t) => !t || t.offset % 16 === 0);
  const vec4 = io.vec4 ?? (dim % 4 === 0 && aligned);
  if (vec4 && !(dim % 4 === 0 && aligned)) {
    throw new Error("layerNorm: vec4 needs dim % 4 == 0 and 16-byte aligned views");
  }
  const units = vec4 ? dim / 4 : dim;
  const software = rt.gpu.isFallback;
  const lanes = io.lanes ?? defaultLanes(units, software);
  if (!LANE_CHOICES.includes(lanes)) throw new Error(`layerNorm: lanes ${lanes} unsupported`);
  const K = Math.ceil(units / lanes);
  const rpw = 256 / lanes; // rows per workgroup
  const defines = {
    RESIDUAL: residual,
    DROPOUT: !!io.dropout && io.dropout.p > 0,
    LANES: lanes,
    K,
    SKIPD: !fwdOnly && !!io.gradSkip,
    SKIPADD: !fwdOnly && !!io.skipAdd,
  };
  const p = io.dropout?.p ?? 0;
  // backward: about 2,048 workgroups on a GPU (fills an H100 at 7 row groups each; the partial
  // buffer stays [2·dim, 2,048]); a software adapter prefers few long workgroups
  const groups = Math.ceil(rows / rpw);
  const gpp = io.groupsPerPart ?? Math.max(1, Math.ceil(groups / (software ? 16 : 2048)));
  const nparts = Math.ceil(groups / gpp);
  const stats = fwdOnly && ctx.scratch
    ? ctx.scratch("ln.stats", [rows, 2])
    : rt.tensor([rows, 2], "f32", undefined, "ln.stats");
  const common = [
    rows,
    dim,
    f32(io.eps),
    dropoutThreshold(p),
    f32(1 / (1 - p)),
    io.dropout ? io.dropout.salt >>> 0 : 0,
  ];
  const frame = io.dropout?.frame;
  if (frame && !(frame.length >= 1 && frame.length <= frame.paddedLength)) {
    throw new Error(`layerNorm: dropout frame ${frame.length} of ${frame.paddedLength}`);
  }
  const framing = frame ? [frame.length, frame.paddedLength - frame.length] : [rows, 0];
  const sfx = vec4 ? "4" : "";
  const fwdK = await rt.kernel("layernorm", `ln_forward${sfx}`, defines);
  const forward: Command[] = [rt.op(
    fwdK,
    [io.input, res, io.gamma, io.beta, io.output, stats, ctx.step],
    { params: [...common, 1, 0, ...framing], workgroups: grid(groups, 1) },
  )];
  if (fwdOnly) return { forward, backward: [], stats };
  const blocks = io.gradSkip ? 3 : 2; // partial rows per column: gamma, beta (, D)
  const partial = rt.tensor([blocks * dim, nparts], "f32", undefined, "ln.partial");
  const bwdK = await rt.kernel("layernorm", `ln_backward${sfx}`, defines);
  const redK = await rt.kernel("layernorm", "ln_reduce", defines);
  const backward: Command[] = [
    rt.op(
      bwdK,
      // binding 10 is read under SKIPADD only (a placeholder otherwise)
      [
        io.input,
        res,
        io.gamma,
        stats,
        io.dOutput!,
        io.dInput!,
        dRes!,
        partial,
        ctx.step,
        io.skipAdd ?? io.gamma,
      ],
      { params: [...common, gpp, nparts, ...framing], workgroups: grid(nparts, 1) },
    ),
    // binding 4 is read under SKIPD only (a placeholder otherwise)
    rt.op(redK, [partial, io.gradGamma!, io.gradBeta!, io.gradSkip ?? io.gradBeta!], {
      params: [...common, gpp, nparts, ...framing],
      workgroups: grid(blocks * dim, 1),
    }),
  ];
  return { forward, backward, stats };
}
