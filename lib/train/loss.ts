/**
 * Training losses on the GPU: softmax cross-entropy over all V ids (SS4Rec's default; PAD column 0
 * is a normal class, as in the official code) and BPR with one negative sampled on the GPU.
 *
 * Rows whose target is 0 (or outside 1..V−1) are padding: no loss, no gradient; means are over the
 * `count` valid rows, which supports partial last batches and per-position ("sequence") targets.
 * Both write the per-row loss, a [mean, count] stats pair for this step and ADD [Σloss, count] into
 * a running accumulator, so the host reads two floats per epoch instead of syncing per step.
 * Both produce d(mean loss)/d logits (overwritten); the tied logits matmul's backward turns that
 * into the representation and item-embedding gradients.
 *
 * @module
 */

import { type Command, grid, type Runtime, type Tensor } from "../gpu/runtime.ts";
import type { BuildContext } from "../nn/module.ts";

/** Tensors and sizes of a loss. */
export interface LossIO {
  /** [rows, vocab] scores. */
  logits: Tensor;
  /** i32 [rows]; 0 = padding row. */
  targets: Tensor;
  /** [rows, vocab] d(mean loss)/d logits, overwritten by the backward (by the fused CE forward). */
  dLogits: Tensor;
  rows: number;
  vocab: number;
  /** f32 [2] running [Σ loss, Σ count] the forward adds to; allocated (zeroed) when omitted. */
  accumulator?: Tensor;
  /**
   * f32 [2] whose [1] is the count the gradient's mean divides by, written before this loss runs
   * by {@linkcode countValid} over all rows of the step: losses over row chunks of one step then
   * give the gradient of the step's mean, whatever the chunking. Default: this call's valid rows.
   */
  count?: Tensor;
}

/**
 * The op writing the number of valid targets among `rows` into `count[1]` (for {@linkcode LossIO.count}).
 */
export async function countValid(
  rt: Runtime,
  io: { targets: Tensor; count: Tensor; rows: number; vocab: number },
): Promise<Command> {
  return rt.op(await rt.kernel("loss", "ce_count"), [io.targets, io.count], {
    params: [io.rows, io.vocab, 0, 0],
    workgroups: 1,
  });
}

/** What a loss builder returns. */
export interface BuiltLoss {
  /** Per-row loss and the reduce into `stats` / `accumulator`. */
  forward: Command[];
  /**
   * Writes `dLogits`; must run after `forward` in the same step. Empty for the fused
   * cross-entropy, whose forward writes `dLogits` itself.
   */
  backward: Command[];
  /** f32 [rows] per-row loss (0 on padding rows). */
  loss: Tensor;
  /** f32 [2]: [mean loss over valid rows, count of valid rows] of the last step. */
  stats: Tensor;
  /** f32 [2] running [Σ loss, Σ count]; clear it (a `{clear}` command) to start a new epoch. */
  accumulator: Tensor;
}

function check(io: LossIO): void {
  if (io.logits.size < io.rows * io.vocab || io.dLogits.size < io.rows * io.vocab) {
    throw new Error("loss: logits / dLogits smaller than [rows, vocab]");
  }
  if (io.targets.size < io.rows) throw new Error("loss: targets smaller than rows");
}

/** Options of {@linkcode crossEntropy}. */
export interface CrossEntropyOptions {
  /**
   * Default true: the forward also writes `dLogits` (one pass over the logits: the count of valid
   * rows is taken from the targets first) and `backward` is empty. false: the forward writes only
   * the loss and `backward` writes `dLogits` from a second read of the logits.
   */
  fused?: boolean;
}

/**
 * Softmax cross-entropy: loss_b = logsumexp(logits_b) − logits_b[t_b] (max-subtracted);
 * dLogits = (softmax − onehot)/count on valid rows, 0 on padding rows. One 256-thread workgroup per
 * row holds the row in registers (up to 4,096 columns; longer rows read the rest twice), so the fused default reads the logits once
 * and writes dLogits once: ce_count, ce_fused, loss_reduce.
 */
export async function crossEntropy(
  rt: Runtime,
  io: LossIO & CrossEntropyOptions,
): Promise<BuiltLoss> {
  check(io);
  const { rows, vocab } = io;
  const fused = io.fused ?? true;
  const loss = rt.tensor([rows], "f32", undefined, "ce.loss");
  const stats = rt.tensor([2], "f32", undefined, "ce.stats");
  const accumulator = io.accumulator ?? rt.tensor([2], "f32", [0, 0], "ce.acc");
  const params = [rows, vocab, 0, 0];
  const k = (e: string) => rt.kernel("loss", e);
  const reduce = rt.op(await k("loss_reduce"), [loss, io.targets, stats, accumulator], {
    params,
    workgroups: 1,
  });
  const count = io.count ?? stats;
  if (fused) {
    return {
      forward: [
        ...(io.count
          ? []
          : [rt.op(await k("ce_count"), [io.targets, stats], { params, workgroups: 1 })]),
        rt.op(await k("ce_fused"), [io.logits, io.targets, loss, count, io.dLogits], {
          params,
          workgroups: grid(rows, 1),
        }),
        reduce,
      ],
      backward: [],
      loss,
      stats,
      accumulator,
    };
  }
  const lse = rt.tensor([rows], "f32", undefined, "ce.lse");
  return {
    forward: [
      rt.op(await k("ce_forward"), [io.logits, io.targets, loss, lse], {
        params,
        workgroups: grid(rows, 1),
      }),
      reduce,
    ],
    backward: [
      rt.op(await k("ce_backward"), [io.logits, io.targets, lse, count, io.dLogits], {
        params,
        workgroups: grid(rows * vocab),
      }),
    ],
    loss,
    stats,
    accumulator,
  };
}

/** What {@linkcode bpr} returns in addition to {@linkcode BuiltLoss}. */
export interface BuiltBpr extends BuiltLoss {
  /** i32 [rows] the sampled negative per row (0 on padding rows). */
  negatives: Tensor;
}

/**
 * BPR with one sampled negative per row: n_b = 1 + randU32(seed, salt, b) mod (V − 2), shifted
 * up by one at or above the target (uniform over 1..V−1 without the target; seed = ctx.step[1],
 * so a new negative every step); loss_b = −log σ(s_pos − s_neg). dLogits is −σ(s_neg − s_pos)/count
 * at the target, +σ(s_neg − s_pos)/count at the negative, 0 elsewhere. Needs V ≥ 3.
 */
export async function bpr(
  ctx: Pick<BuildContext, "rt" | "step">,
  io: LossIO & { salt: number },
): Promise<BuiltBpr> {
  check(io);
  const { rt } = ctx;
  const { rows, vocab } = io;
  if (vocab < 3) throw new Error("bpr: needs at least 3 ids (PAD, target, one negative)");
  const loss = rt.tensor([rows], "f32", undefined, "bpr.loss");
  const negatives = rt.tensor([rows], "i32", undefined, "bpr.negatives");
  const stats = rt.tensor([2], "f32", undefined, "bpr.stats");
  const accumulator = io.accumulator ?? rt.tensor([2], "f32", [0, 0], "bpr.acc");
  const params = [rows, vocab, io.salt >>> 0, 0];
  const k = (e: string) => rt.kernel("loss", e);
  return {
    forward: [
      rt.op(await k("bpr_forward"), [io.logits, io.targets, loss, negatives, ctx.step], {
        params,
        workgroups: grid(rows),
      }),
      rt.op(await k("loss_reduce"), [loss, io.targets, stats, accumulator], {
        params,
        workgroups: 1,
      }),
    ],
    backward: [
      rt.op(await k("bpr_backward"), [
        io.logits,
        io.targets,
        io.count ?? stats,
        negatives,
        io.dLogits,
      ], {
        params,
        workgroups: grid(rows * vocab),
      }),
    ],
    loss,
    stats,
    accumulator,
    negatives,
  };
}
