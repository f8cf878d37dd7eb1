/**
 * The contract every layer follows.
 *
 * A layer declares its parameters ({@linkcode ParamSpec}: name, shape, float64 initialiser). The
 * model lays all of them out in one flat parameter buffer and one flat gradient buffer (GPU.md rule
 * 3) and hands each layer its views through a {@linkcode BuildContext}. `build` allocates the
 * layer's activations for the fixed batch shape and returns its forward and backward dispatch lists.
 *
 * A forward-only build ({@linkcode BuildContext.forwardOnly}, for evaluation) allocates only what
 * the forward needs and returns empty backward lists.
 *
 * Gradient conventions (so layers compose without extra copies):
 * - parameter gradients ACCUMULATE (`+=`) into their views; the model clears the flat gradient
 *   buffer once at the start of each step;
 * - activation gradients (the `dInput` a layer produces) are OVERWRITTEN; residual sums are added
 *   by the caller.
 *
 * @module
 */

import { type Command, type Runtime, Tensor } from "../gpu/runtime.ts";

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
   * Build the forward only (evaluation graphs; default false): layers allocate nothing that only
   * a backward needs (backward temporaries, saved state such as Mamba's scan checkpoints, their
   * `dInput`), keep their forward temporaries in the build's {@linkcode BACKWARD_ARENA} region
   * (nothing of them has to survive the layer's forward), need no `dOutput`, and return an empty
   * `backward`, no `dInput` and no `recompute`.
   */
  forwardOnly?: boolean;
  /**
   * A scratch tensor shared by every layer of this build that asks for the same `key` (see
   * {@linkcode scratchPool}: a model that mixes layer kinds requests the largest size first, as
   * for {@linkcode BACKWARD_ARENA}). Uses:
   * - backward-only temporaries (written and fully consumed within ONE layer's backward list, or
   *   read by the caller right after it, like a layer's `dInput`): the layers of a model run their
   *   backward passes one after another, so these share memory;
   * - the internal activations a layer's backward reads (saved by its forward). Layers of the same
   *   kind then share one copy: only the layer whose forward ran last finds its own values there,
   *   every other one replays {@linkcode BuiltLayer.recompute} before its backward;
   * - the split-K workspace of the matmuls ({@linkcode SPLIT_K_WORKSPACE}).
   * Optional: a layer falls back to its own allocations when a context does not offer it.
   */
  scratch?: (key: string, shape: readonly number[], dtype?: "f32" | "i32" | "u32") => Tensor;
  /**
   * Packed tokens (lib/data/batch.ts `packBatch`; evaluation and prefix-mode training): the
   * activations are
   * [tokens, ·] instead of [B, L, ·], the rows' real steps one row after another, step t of row b
   * at row starts[b] + t, so no work goes to padding. `lengths` [B] and `starts` [B + 1] are i32
   * tensors the host fills per batch. Layers that scan over time index through them; every other
   * dispatch simply runs over `tokens` rows. The last rows of B may be filler rows (`packBatch`),
   * which layers treat as any other row.
   */
  packed?: { tokens: number; lengths: Tensor; starts: Tensor };
}

/** Activation rows of a build: its packed token count, else B·L. */
export function tokenRows(ctx: Pick<BuildContext, "batch" | "seqLen" | "packed">): number {
  return ctx.packed?.tokens ?? ctx.batch * ctx.seqLen;
}

/**
 * The lengths and row-start bindings of the kernels that can run on packed tokens: the build's, or
 * 1-element placeholders (the kernels then never read them, but their bindings must be bound).
 */
export function packedBindings(
  ctx: Pick<BuildContext, "rt" | "packed" | "scratch">,
): [Tensor, Tensor] {
  if (ctx.packed) return [ctx.packed.lengths, ctx.packed.starts];
  // one placeholder per build where the build shares scratch tensors (its content is never read)
  const none = ctx.scratch?.("unpacked", [1], "i32") ?? ctx.rt.tensor([1], "i32", [0], "unpacked");
  return [none, none];
}

/**
 * The `ctx.scratch` key of the region every layer carves its backward-only temporaries (and its
 * `dInput`) from, with {@linkcode carve}. In a forward-only build the region holds the layers'
 * forward temporaries instead (the layers' forwards run one after another, and nothing of them is
 * kept for a backward).
 */
export const BACKWARD_ARENA = "backward";

/** Floats per 256 bytes: views into an arena start at multiples of this (binding alignment). */
const ALIGN_F32 = 64;

/** `n` f32 rounded up to whole 256-byte steps: where a view after `n` floats may start. */
export function alignedF32(n: number): number {
  return Math.ceil(n / ALIGN_F32) * ALIGN_F32;
}

/** f32 elements an arena needs to hold `shapes` side by side (see {@linkcode carve}). */
export function arenaSize(shapes: readonly (readonly number[])[]): number {
  let n = 0;
  for (const s of shapes) n += alignedF32(s.reduce((a, b) => a * b, 1));
  return Math.max(n, 1);
}

/**
 * Consecutive 256-byte aligned views of `region`, one per shape (the layout {@linkcode arenaSize}
 * counts). Throws when the region is too small.
 */
export function carve(region: Tensor, shapes: readonly (readonly number[])[]): Tensor[] {
  if (region.size < arenaSize(shapes)) {
    throw new Error(`arena '${region.name}': ${region.size} < ${arenaSize(shapes)} elements`);
  }
  let at = region.offset;
  return shapes.map((shape) => {
    const t = new Tensor(region.buffer, at, shape, region.dtype, region.name);
    at += arenaSize([shape]) * 4;
    return t;
  });
}

/**
 * The region holding `shapes` side by side (carve it with {@linkcode carve}): the build's backward
 * arena ({@linkcode BACKWARD_ARENA}) when the context shares scratch, else a layer's own tensor
 * named `name`.
 */
export function backwardRegion(
  ctx: Pick<BuildContext, "rt" | "scratch">,
  shapes: readonly (readonly number[])[],
  name: string,
): Tensor {
  const n = arenaSize(shapes);
  return ctx.scratch
    ? ctx.scratch(BACKWARD_ARENA, [n])
    : ctx.rt.tensor([n], "f32", undefined, name);
}

/** The tensors a layer is built on; the caller allocates all of them. */
export interface LayerIO {
  /** Input activations, e.g. [B, L, H]. */
  input: Tensor;
  /**
   * Gradient of the loss w.r.t. this layer's output, filled before `backward` runs (required
   * unless the build is forward-only).
   */
  dOutput?: Tensor;
  /**
   * Where the output goes (default: a tensor of the layer's own). A forward-only build may pass
   * memory that later layers reuse once the output has been consumed.
   */
  output?: Tensor;
  /** Time gaps [B, L] (f32 seconds) for time-aware layers. */
  timeGaps?: Tensor;
  /**
   * Valid steps per row [B] (i32; the batch's `seqLen`). Steps t ≥ lengths[b] are right padding
   * that no loss reads (the layers are causal): a layer may skip them, writing 0 to its output and
   * its input gradient there (MambaLayer's scans do). Absent: every step is computed.
   */
  lengths?: Tensor;
  /**
   * The input at each row's last valid step (clamp(lengths[b], 1, L) − 1), [B, H], when only
   * those steps' outputs are wanted (the last block in evaluation and in prefix-mode training):
   * the layer then computes its output at those steps only, so `output` and `dOutput` are [B, H]
   * (MambaLayer only; needs `lengths`). The layer still reads `input` at every step.
   */
  lastOnly?: Tensor;
  /**
   * With `lastOnly` in a training build on packed tokens: i32 [B], the token row of each row's last
   * step (−1: an empty row).
   */
  lastTokens?: Tensor;
  /**
   * With `lastOnly` in a training build: [B, H], the backward ADDS ∂loss/∂lastOnly into it (the
   * caller adds that into the input gradient at the last steps, see lib/nn/elementwise.ts
   * `addAtLast`).
   */
  dLastOnly?: Tensor;
  /**
   * [B, L, H]: the backward ADDS ∂loss/∂input into this tensor (a residual's gradient already
   * there) instead of overwriting a `dInput` of its own; `BuiltLayer.dInput` is then this tensor.
   */
  dInputAccumulate?: Tensor;
  /**
   * [B, L, H]: where the backward writes ∂loss/∂input (overwritten) instead of a tensor of its own
   * (MambaLayer; `dInputAccumulate` takes precedence).
   */
  dInputTarget?: Tensor;
  /**
   * MambaLayer: saved activations that stay the layer's own where `ctx.scratch` would share them —
   * "xz" (in_proj's output), "xc" (the conv output), "xdbl" (x_proj's), "scan" (the forward
   * scan's output y and its checkpoints) — so that `BuiltLayer.recompute` leaves out the
   * dispatches that make them, for their memory.
   */
  keep?: readonly ("xz" | "xc" | "xdbl" | "scan")[];
  /**
   * S5Layer: the gradient of its skip weight D (Σ ∂output·input) is added by the caller — the
   * LayerNorm backward after the layer, which has both at hand (lib/nn/layernorm.ts `gradSkip`) —
   * so the layer's backward leaves it out.
   */
  skipGradByCaller?: boolean;
  /**
   * S5Layer: `input` is an embedding lookup, input[r] = table[ids[r]] (a zero row for ids outside
   * [0, V), as lib/nn/embedding.ts gathers), so its projection v = u·Bmᵀ is gathered from the
   * projected table table·Bmᵀ [V, 2P] — one product over V rows instead of one over every token
   * (the first block of SS4Rec, whose input is the item embedding).
   */
  lookup?: {
    ids: Tensor;
    table: Tensor;
    /**
     * Training: the table's gradient [V, H] (ADDED into) and the embedding's per-id sums
     * (lib/nn/embedding.ts `sumById`, run after its `sort`). The backward then sends the v path
     * straight to the table — gradTable += (Σ_{r: ids[r] = i} ∂v_r)·Bm and ∂B̃ = Σ_i (those
     * sums)ᵀ·table[i], with no product over the tokens — and its input gradient leaves out both
     * ∂v·Bm and the skip term's D·∂output (the caller adds that: the LayerNorm backward's
     * `skipAdd`), so it is complete only where the caller sums it by id into the same table.
     * Rows of ids 0 and ≥ V add nothing to ∂B̃ (padding, whose ∂v is 0).
     */
    grad?: { table: Tensor; sumById: (dOut: Tensor, out: Tensor) => Promise<Command[]> };
  };
}

/** A built layer: its output, the gradient of its input, and its dispatches. */
export interface BuiltLayer {
  output: Tensor;
  /** Gradient w.r.t. the (first) input, written by `backward` (absent when forward-only). */
  dInput?: Tensor;
  forward: Command[];
  backward: Command[];
  /**
   * The part of `forward` that rewrites what `backward` reads from `ctx.scratch` (not `output`):
   * run it right before `backward` when another layer may have overwritten the shared scratch
   * since this layer's forward. Absent when the layer keeps nothing in shared scratch.
   */
  recompute?: Command[];
}

/**
 * Shared scratch for one build (see {@linkcode BuildContext.scratch}): requests for a key get views
 * of one buffer. A request larger than that buffer gets a new one, which later requests share;
 * views handed out earlier keep the old one (they are already bound into dispatches and cannot
 * move), so request the largest size first when it is known.
 */
export function scratchPool(rt: Runtime): NonNullable<BuildContext["scratch"]> {
  const pool = new Map<string, Tensor>();
  return (key, shape, dtype = "f32") => {
    const n = shape.reduce((a, b) => a * b, 1);
    const have = pool.get(key);
    if (have && have.size >= n) return new Tensor(have.buffer, have.offset, shape, dtype, key);
    const t = rt.tensor(shape, dtype, undefined, `scratch.${key}`);
    pool.set(key, t);
    return t;
  };
}

/** The `ctx.scratch` key of the split-K workspace every `matmulOps` of a build shares. */
export const SPLIT_K_WORKSPACE = "matmul.splitK";

/**
 * The `workspace` argument of `matmulOps` that shares the build's split-K workspace
 * ({@linkcode SPLIT_K_WORKSPACE}); undefined without `ctx.scratch` (each product then allocates
 * its own).
 */
export function splitKWorkspace(
  ctx: Pick<BuildContext, "scratch">,
): ((elements: number) => Tensor) | undefined {
  const scratch = ctx.scratch;
  return scratch && ((n: number) => scratch(SPLIT_K_WORKSPACE, [n]));
}
