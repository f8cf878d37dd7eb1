/**
 * Full-ranking evaluation on the GPU (SPEC §5): per-row ranks of the target from scores that stay
 * on the device, and HR / NDCG / MRR @ {5, 10, 20} sums accumulated across batches, so the host
 * reads 10 floats per evaluation.
 *
 * Rank = 1 + #{j ∈ 1..V−1, j ≠ target, not history-masked : !(s_j < s_target)}: ties count against
 * the target, padding column 0 never counts, and a NaN (in s_j or s_target) counts against the
 * target. Rows with target outside 1..V−1 get rank 0 and are skipped by the metrics (partial last
 * batches). History masking (optional, SPEC §5 `mask_history`) uses a bitmask [rows, ⌈V/32⌉] u32:
 * O(1) per candidate in the kernel, 440 KB per 1,024 rows at V = 3,417; the target is never masked.
 *
 * @module
 */

import type { Op, Runtime, Tensor } from "./runtime.ts";

/** Words per row of the history bitmask. */
export function historyMaskWords(vocab: number): number {
  return Math.ceil(vocab / 32);
}

/** Packs per-row item-id lists into the [rows, ⌈V/32⌉] u32 bitmask {@linkcode rankOp} reads. */
export function packHistoryMask(histories: ArrayLike<number>[], vocab: number): Uint32Array {
  const w = historyMaskWords(vocab);
  const out = new Uint32Array(histories.length * w);
  histories.forEach((items, b) => {
    for (let i = 0; i < items.length; i++) {
      const j = items[i];
      if (j > 0 && j < vocab) out[b * w + (j >>> 5)] |= 1 << (j & 31);
    }
  });
  return out;
}

/**
 * Packs per-row histories given as a CSR (`items[offsets[b]..offsets[b+1])` for row b) into the
 * bitmask; rows past the CSR (padding rows of a batch) get an empty history.
 */
export function packHistoryCsr(
  history: { offsets: Int32Array; items: Int32Array } | undefined,
  rows: number,
  vocab: number,
): Uint32Array {
  const lists = Array.from(
    { length: rows },
    (_, b) =>
      history && b + 1 < history.offsets.length
        ? history.items.subarray(history.offsets[b], history.offsets[b + 1])
        : new Int32Array(0),
  );
  return packHistoryMask(lists, vocab);
}

/** Tensors and sizes of {@linkcode rankOp}. */
export interface RankIO {
  /** f32 [rows, vocab]. */
  scores: Tensor;
  /** i32 [rows]; 0 = padding row (rank 0). */
  targets: Tensor;
  /** u32 [rows] output. */
  ranks: Tensor;
  rows: number;
  vocab: number;
  /** Optional u32 [rows, historyMaskWords(vocab)] bitmask of excluded items. */
  historyMask?: Tensor;
}

/** Builds the rank dispatch (one 256-thread workgroup per row). */
export async function rankOp(rt: Runtime, io: RankIO): Promise<Op> {
  const { rows, vocab } = io;
  if (io.scores.size < rows * vocab) throw new Error("rankOp: scores smaller than [rows, vocab]");
  const words = historyMaskWords(vocab);
  if (io.historyMask && io.historyMask.size < rows * words) {
    throw new Error(`rankOp: history mask needs ${rows * words} words`);
  }
  const k = await rt.kernel("rank", "rank_rows");
  // without a mask the binding still needs a buffer: the targets tensor is never read as a mask
  const mask = io.historyMask ?? io.targets;
  const rowsGrid = rows <= 65535
    ? [rows, 1, 1] as [number, number, number]
    : [65535, Math.ceil(rows / 65535), 1] as [number, number, number];
  return rt.op(k, [io.scores, io.targets, mask, io.ranks], {
    params: [rows, vocab, words, io.historyMask ? 1 : 0],
    workgroups: rowsGrid,
  });
}

/** Layout of the metric accumulator written by {@linkcode metricsOp}. */
export const METRICS_LAYOUT = [
  "count",
  "hr@5",
  "hr@10",
  "hr@20",
  "ndcg@5",
  "ndcg@10",
  "ndcg@20",
  "mrr@5",
  "mrr@10",
  "mrr@20",
] as const;

/** Builds the dispatch that ADDS this batch's metric sums into `accumulator` (f32 [10]). */
export async function metricsOp(
  rt: Runtime,
  io: { ranks: Tensor; accumulator: Tensor; rows: number },
): Promise<Op> {
  if (io.accumulator.size < 10) throw new Error("metricsOp: accumulator needs 10 floats");
  const k = await rt.kernel("rank", "rank_metrics");
  return rt.op(k, [io.ranks, io.accumulator], { params: [io.rows, 0, 0, 0], workgroups: 1 });
}

/** Means from the accumulated sums: {"hr@10": …, …} plus `count`. */
export function metricsFromSums(sums: ArrayLike<number>): Record<string, number> {
  const out: Record<string, number> = { count: sums[0] };
  METRICS_LAYOUT.forEach((name, i) => {
    if (i > 0) out[name] = sums[0] > 0 ? sums[i] / sums[0] : 0;
  });
  return out;
}
