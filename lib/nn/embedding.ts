/**
 * Item-embedding lookup [n ids] → [n, H] and its scatter-add backward into the [V, H] gradient,
 * with padding_idx = 0 semantics (row 0 gets no lookup gradient; the tied-logits path may still
 * add to it).
 *
 * Backward design (no float atomics, no host work per step, deterministic bits): a counting sort
 * of the token positions by id on the GPU — histogram with integer atomics, one-workgroup prefix
 * sum, scatter of positions into per-id segments, then a per-segment sort so each segment lists
 * its tokens in ascending order (the atomic scatter order is arbitrary) — and finally one workgroup
 * per id sums its rows in that fixed order and ADDS into the gradient view. Cost per step is
 * O(n + V) plus Σ(count_id²) compares for the segment sort (a few million at B·L = 204,800 with
 * ML-1M's popularity skew); the alternative "one thread per (id, h) scanning all tokens" would be
 * O(V·n) and a dense one-hot matmul 45 GFLOP. See kernels/embedding.wgsl.
 *
 * @module
 */

import { type Command, grid, type Runtime, type Tensor } from "../gpu/runtime.ts";

/** Tensors and sizes of {@linkcode embedding}. */
export interface EmbeddingIO {
  /** [V, H] parameter view. */
  table: Tensor;
  /** [V, H] gradient view; the backward ADDS into it. */
  gradTable: Tensor;
  /** i32 [n] ids (e.g. item_seq flattened, n = B·L); ids outside [0, V) read a zero row. */
  ids: Tensor;
  /** [n, H]. */
  output: Tensor;
  /** [n, H] gradient of the output. */
  dOutput: Tensor;
  tokens: number;
  dim: number;
  vocab: number;
}

/** What {@linkcode embedding} builds. */
export interface BuiltEmbedding {
  forward: Command[];
  backward: Command[];
  /** u32 workspace: counts [V] | offsets [V+1] | cursor [V] | perm [n] | sorted [n]. */
  workspace: Tensor;
}

/**
 * Builds the gather forward and the five-dispatch deterministic scatter-add backward. The
 * workspace's counts must start at zero (fresh allocations are) and are left at zero by the
 * backward's scan, so no clear command is needed between steps.
 */
export async function embedding(rt: Runtime, io: EmbeddingIO): Promise<BuiltEmbedding> {
  const { tokens: n, dim, vocab } = io;
  if (io.table.size < vocab * dim || io.gradTable.size < vocab * dim) {
    throw new Error("embedding: table or gradTable smaller than [vocab, dim]");
  }
  if (io.ids.size < n || io.output.size < n * dim || io.dOutput.size < n * dim) {
    throw new Error("embedding: ids / output / dOutput smaller than the token count");
  }
  const workspace = rt.tensor([3 * vocab + 1 + 2 * n], "u32", undefined, "emb.workspace");
  const params = [n, dim, vocab, 0];
  const k = (e: string) => rt.kernel("embedding", e);
  const forward: Command[] = [
    rt.op(await k("emb_gather"), [io.ids, io.table, io.output], {
      params,
      workgroups: grid(n * dim),
    }),
  ];
  const backward: Command[] = [
    rt.op(await k("emb_hist"), [io.ids, workspace], { params, workgroups: grid(n) }),
    rt.op(await k("emb_scan"), [workspace], { params, workgroups: 1 }),
    rt.op(await k("emb_scatter"), [io.ids, workspace], { params, workgroups: grid(n) }),
    rt.op(await k("emb_sort"), [io.ids, workspace], { params, workgroups: grid(n) }),
    rt.op(await k("emb_reduce"), [workspace, io.dOutput, io.gradTable], {
      params,
      workgroups: grid(vocab, 1),
    }),
  ];
  return { forward, backward, workspace };
}
