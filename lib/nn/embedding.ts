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

import { type Command, grid, type Op, type Runtime, type Tensor } from "../gpu/runtime.ts";

/**
 * One dispatch: output[r] = table[ids[r]] for r < n (rows of `dim`; a zero row for ids outside
 * [0, vocab)). 16-byte loads and stores when dim is a multiple of 4. Sizes default to the tensors'
 * own: dim = output's last dimension, n = output's rows, vocab = table's rows.
 */
export async function gatherRows(
  rt: Runtime,
  ids: Tensor,
  table: Tensor,
  output: Tensor,
  o: { n: number; dim: number; vocab: number } = shapeOf(table, output),
): Promise<Op> {
  const v4 = o.dim % 4 === 0;
  return rt.op(await rt.kernel("embedding", v4 ? "emb_gather4" : "emb_gather"), [
    ids,
    table,
    output,
  ], {
    params: [o.n, o.dim, o.vocab, 0],
    workgroups: grid(v4 ? o.n * o.dim / 4 : o.n * o.dim),
  });
}

function shapeOf(table: Tensor, output: Tensor): { n: number; dim: number; vocab: number } {
  const dim = output.shape[output.shape.length - 1];
  return { n: output.size / dim, dim, vocab: table.size / dim };
}

/** Tensors and sizes of {@linkcode embedding}. */
export interface EmbeddingIO {
  /** [V, H] parameter view. */
  table: Tensor;
  /**
   * [V, H] gradient view; the backward ADDS into it. Omit it and `dOutput` for a forward-only
   * build: the backward is then empty and nothing of it is allocated.
   */
  gradTable?: Tensor;
  /** i32 [n] ids (e.g. item_seq flattened, n = B·L); ids outside [0, V) read a zero row. */
  ids: Tensor;
  /** [n, H]. */
  output: Tensor;
  /** [n, H] gradient of the output. */
  dOutput?: Tensor;
  tokens: number;
  dim: number;
  vocab: number;
}

/** What {@linkcode embedding} builds. */
export interface BuiltEmbedding {
  forward: Command[];
  /** `sort` then `sums`. */
  backward: Command[];
  /** The counting sort of the token positions by id (reads the ids only). */
  sort: Command[];
  /** The per-id sums of `dOutput`, added into `gradTable` (after `sort`). */
  sums: Command[];
  /**
   * The per-id sums of another [n, dim] tensor `dOut` into `out` [V, dim] (dim = out's size / V;
   * overwritten, 0 for ids without tokens), on `sort`'s order (run after it): rows of ids 0 and
   * ≥ V count for no id, as in `sums`.
   */
  sumById?: (dOut: Tensor, out: Tensor) => Promise<Command[]>;
  /**
   * u32 workspace: cnt [nblk·V] | offsets [V+1] | chunk offsets [V+1] | chunk ids [maxch] |
   * sorted [n] (see kernels/embedding.wgsl); absent in a forward-only build.
   */
  workspace?: Tensor;
}

/** Tuning of the backward (defaults suit B·L = 204,800 tokens; tests force small values). */
export interface EmbeddingTuning {
  /** Tokens per counting-sort block (a multiple of 256; default 1,024, more when V is large). */
  blockTokens?: number;
  /**
   * Longest run of tokens one thread sums (default ceil(sqrt(n) / 4), at least 32: the longest
   * chunk is emb_partial's critical path, a chain of dependent loads; session 11).
   */
  chunk?: number;
}

/**
 * Builds the gather forward and the six-dispatch deterministic scatter-add backward: a stable
 * counting sort of the token positions by id (per-block counts, a scan, a per-block placement with
 * in-workgroup ranks), then per-(chunk, h) sums over segments cut into chunks of at most `chunk`
 * tokens and a per-(id, h) sum of the chunk sums in order. Work is O(n + V) and each thread's sum
 * is at most ~4·sqrt(n) long whatever the id skew. The workspace's counts start at zero (fresh
 * allocations are) and are left at zero by the backward, so no clear command is needed.
 */
export async function embedding(
  rt: Runtime,
  io: EmbeddingIO & EmbeddingTuning,
): Promise<BuiltEmbedding> {
  const { tokens: n, dim, vocab } = io;
  if (!io.gradTable !== !io.dOutput) {
    throw new Error("embedding: give both gradTable and dOutput, or neither (forward-only)");
  }
  if (io.table.size < vocab * dim || (io.gradTable?.size ?? Infinity) < vocab * dim) {
    throw new Error("embedding: table or gradTable smaller than [vocab, dim]");
  }
  if (io.ids.size < n || io.output.size < n * dim || (io.dOutput?.size ?? Infinity) < n * dim) {
    throw new Error("embedding: ids / output / dOutput smaller than the token count");
  }
  const k = (e: string) => rt.kernel("embedding", e);
  const forward: Command[] = [await gatherRows(rt, io.ids, io.table, io.output, { n, dim, vocab })];
  if (!io.gradTable || !io.dOutput) return { forward, backward: [], sort: [], sums: [] };
  // blocks: the counts matrix [nblk, V] stays under ~4M entries (16 MB)
  const tblk = io.blockTokens ??
    256 * Math.max(4, Math.ceil(Math.ceil(n / 256) * vocab / (4 << 20)));
  if (tblk % 256 !== 0 || tblk < 256) throw new Error("embedding: blockTokens % 256 != 0");
  const nblk = Math.max(1, Math.ceil(n / tblk));
  const ch = io.chunk ?? Math.max(32, Math.ceil(Math.sqrt(n) / 4));
  const maxch = Math.floor(n / ch) + Math.min(vocab, n) + 1;
  const workspace = rt.tensor(
    [nblk * vocab + 2 * (vocab + 1) + maxch + n],
    "u32",
    undefined,
    "emb.workspace",
  );
  const q = [n, dim, vocab, tblk, nblk, ch, maxch, 0];
  const sort: Command[] = [
    rt.op(await k("emb_count"), [io.ids, workspace], { params: q, workgroups: grid(n) }),
    rt.op(await k("emb_colscan"), [workspace], { params: q, workgroups: grid(vocab) }),
    rt.op(await k("emb_scan"), [workspace], { params: q, workgroups: 1 }),
    rt.op(await k("emb_place"), [io.ids, workspace], { params: q, workgroups: grid(nblk, 1) }),
  ];
  const sumsOf = async (dOut: Tensor, out: Tensor, d: number, overwrite: boolean) => {
    const partial = rt.tensor([maxch, d], "f32", undefined, "emb.partial");
    const qd = [n, d, vocab, tblk, nblk, ch, maxch, overwrite ? 1 : 0];
    return [
      rt.op(await k("emb_partial"), [workspace, dOut, partial], {
        params: qd,
        workgroups: grid(maxch * d),
      }),
      rt.op(await k("emb_final"), [workspace, partial, out], {
        params: qd,
        workgroups: grid(vocab * d),
      }),
    ];
  };
  const sumById = (dOut: Tensor, out: Tensor) => {
    const d = out.size / vocab;
    if (!Number.isInteger(d) || dOut.size < n * d) {
      throw new Error(`embedding: sumById needs [${n}, dim] rows into [${vocab}, dim]`);
    }
    return sumsOf(dOut, out, d, true);
  };
  const sums = await sumsOf(io.dOutput, io.gradTable, dim, false);
  return { forward, backward: [...sort, ...sums], sort, sums, workspace, sumById };
}
