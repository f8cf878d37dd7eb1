/**
 * Op builders shared by the layers: each returns ready dispatches for fixed tensors.
 *
 * Matmul: {@linkcode matmul} returns ONE dispatch (register-tiled kernel, tile chosen by shape);
 * {@linkcode matmulOps} returns a short command list and may add a split-K stage, which is what the
 * weight gradients need (dW = Xᵀ·dY has K = B·L = 204,800 but only a handful of output tiles, so a
 * single dispatch would occupy 4 of the H100's 132 SMs).
 *
 * @module
 */

import { type Command, f32, type Op, type Runtime, Tensor } from "./runtime.ts";

/** Register-tiling configuration of the matmul kernel (see kernels/matmul.wgsl). */
export interface MatmulTile {
  /** Threads along N and M; a workgroup has wgX·wgY invocations. */
  wgX: number;
  wgY: number;
  /** Outputs per thread along M and N (multiples of 4). */
  tm: number;
  tn: number;
  /** K step staged in shared memory per iteration (multiple of 4). */
  bk: number;
}

/** Options of {@linkcode matmul}. */
export interface MatmulOptions {
  m: number;
  n: number;
  k: number;
  /** A is stored [K, M] (its transpose is used). */
  transA?: boolean;
  /** B is stored [N, K] — the `x · Wᵀ` of a Linear layer with W [out, in]. */
  transB?: boolean;
  /** Independent products over a leading batch dimension (strides default to dense). */
  batch?: number;
  strideA?: number;
  strideB?: number;
  strideC?: number;
  alpha?: number;
  /** 0 overwrites C, 1 accumulates into it (gradients). */
  beta?: number;
  /** Overrides the shape-chosen tile (kernel lab / benchmarks). */
  tile?: MatmulTile;
  /**
   * Number of K slices for {@linkcode matmulOps} (1 disables split-K); chosen by shape when absent.
   * Ignored by {@linkcode matmul}, which is always one dispatch.
   */
  splitK?: number;
  /** Kernel file under kernels/ with the v2+ contract (default "matmul"; e.g. "lab/matmul_v2"). */
  kernel?: string;
  /**
   * Adds d[n]·u[m, n] to each C[m, n] in the epilogue (u in C's layout, d [N]: S5's skip term
   * D·u); one dispatch without batch only (the default kernel).
   */
  skip?: { u: Tensor; d: Tensor };
}

/** SMs on the largest target (H100 SXM): the tile/split heuristics aim for a few waves of these. */
const TARGET_WORKGROUPS = 264;

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/** Tile count of an output for a tile config. */
function tiles(m: number, n: number, batch: number, t: MatmulTile): number {
  return Math.ceil(m / (t.wgY * t.tm)) * Math.ceil(n / (t.wgX * t.tn)) * batch;
}

/** Shared-memory budget of one workgroup (portable: below every adapter we run on). */
const MAX_SHARED_BYTES = 32768;

/** Files with the v3+ contract (tm 4 or 8; tn = 4, or 4 or 8 in lab v5/v6) and the v4 staging limits. */
const V3_FILES = new Set([
  "matmul",
  "lab/matmul_v3",
  "lab/matmul_v4",
  "lab/matmul_v5",
  "lab/matmul_v6",
  "lab/matmul_v7",
]);
const V4_FILES = new Set([...V3_FILES].filter((f) => f !== "lab/matmul_v3"));
const TN8_FILES = new Set(["lab/matmul_v5", "lab/matmul_v6"]);

/**
 * Whether a tile fits the v4 kernel: at most 4 16-byte chunks of each operand per invocation and
 * K step (its named prefetch registers), and two padded shared stages within the budget.
 */
export function tileFits(t: MatmulTile): boolean {
  const nt = t.wgX * t.wgY;
  const bm4 = (t.wgY * t.tm) / 4, bn4 = (t.wgX * t.tn) / 4;
  const la = Math.ceil((bm4 * t.bk) / nt), lb = Math.ceil((bn4 * t.bk) / nt);
  const shared = 2 * t.bk * (bm4 + 1 + bn4 + 1) * 16;
  return la <= 4 && lb <= 4 && shared <= MAX_SHARED_BYTES && nt <= 256;
}

/**
 * The tile for a shape (kernels/matmul.wgsl, v4: 4 columns and 4 or 8 rows per thread), by family:
 * - long M (activations: forward and dX products): a workgroup spans exactly N when N <= 128 is
 *   a multiple of 4 (x_proj's N = 68 wastes nothing), 64 columns otherwise, 8 rows per thread,
 *   K step 8 (H100: in_proj dX 344 µs at bk8 vs 504 µs at bk16 — fewer prefetch registers);
 * - short M (weight gradients dW, logits dE / dX; split-K fills the GPU): 4 rows per thread, no
 *   threads that only see padding rows, K step 16;
 * - K itself rounded to 4 when tiny (dt_proj, K = 4);
 * then shrunk (K step, rows per thread, threads along M) until it fits {@linkcode tileFits}.
 *
 * On a software adapter (`software`: Mesa's lavapipe runs each workgroup on one CPU thread, its
 * invocations in SIMD batches that take turns at every barrier, and a few cores need no split-K to
 * stay busy) every shape takes 64-invocation workgroups of 8 rows per thread: on a 2-core
 * machine the zero-config run's step (kernels/lab/step_profile.ts, runs alternating with the
 * H100's tiles and split-K) took 12–15 % less wall time, its products 15–30 % less GPU time.
 */
export function chooseTile(
  m: number,
  n: number,
  k: number,
  batch = 1,
  software = false,
): MatmulTile {
  let bk = k <= 8 ? roundUp(Math.max(k, 1), 4) : 8;
  const wgX = n % 4 === 0 && n <= (software ? 64 : 128) ? n / 4 : 16;
  let wgY = Math.max(1, Math.floor((software ? 64 : 256) / wgX));
  let t: MatmulTile = { wgX, wgY, tm: 8, tn: 4, bk };
  if (!software && tiles(m, n, batch, t) < TARGET_WORKGROUPS) {
    wgY = Math.max(1, Math.min(wgY, Math.ceil(m / 4)));
    t = { wgX, wgY, tm: 4, tn: 4, bk: k <= 8 ? bk : 16 };
  }
  ({ wgY, bk } = t);
  while (!tileFits(t)) {
    if (t.bk > 4) bk = Math.max(4, roundUp(t.bk / 2, 4));
    else if (t.tm > 4) t = { ...t, tm: 4 };
    else if (wgY > 1) wgY = Math.ceil(wgY / 2);
    else break;
    t = { ...t, wgY, bk };
  }
  return t;
}

/**
 * Split count for split-K: enough slices to reach ~2 waves, each slice at least 128 deep; none on
 * a software adapter (see {@linkcode chooseTile}).
 */
export function chooseSplitK(
  m: number,
  n: number,
  k: number,
  batch: number,
  t: MatmulTile,
  software = false,
): number {
  const nt = tiles(m, n, batch, t);
  if (software || nt >= TARGET_WORKGROUPS || k < 1024) return 1;
  return Math.max(1, Math.min(Math.ceil((2 * TARGET_WORKGROUPS) / nt), Math.floor(k / 128)));
}

/**
 * Elements of the split-K workspace {@linkcode matmulOps} needs for a product (0 when it runs as
 * one dispatch): lets a caller that shares one workspace among several products size it first.
 * `software`: the adapter's {@linkcode Gpu.isFallback}, as matmulOps reads it.
 */
export function splitKWorkspaceSize(o: MatmulOptions, software = false): number {
  const batch = o.batch ?? 1;
  const tile = o.tile ?? chooseTile(o.m, o.n, o.k, batch, software);
  const splits = o.splitK ?? chooseSplitK(o.m, o.n, o.k, batch, tile, software);
  const chunk = roundUp(Math.ceil(o.k / Math.max(1, splits)), tile.bk);
  const n = Math.ceil(o.k / chunk);
  return n > 1 ? n * batch * o.m * o.n : 0;
}

/** A view whose binding covers whole vec4s (buffers are 16-byte multiples, offsets 256-aligned). */
function padded(t: Tensor): Tensor {
  const bytes = Math.min(roundUp(t.byteLength, 16), t.buffer.size - t.offset);
  return new Tensor(t.buffer, t.offset, [bytes / 4], t.dtype, t.name);
}

interface Plan {
  pipeline: GPUComputePipeline;
  defines: Record<string, number | boolean>;
  file: string;
  tile: MatmulTile;
  sa: number;
  sb: number;
  sc: number;
  batch: number;
}

async function plan(rt: Runtime, tensors: { a: Tensor; b: Tensor; c: Tensor }, o: MatmulOptions) {
  const { m, n, k, batch = 1 } = o;
  for (const [name, v] of Object.entries({ m, n, k, batch })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`matmul: ${name} = ${v}`);
  }
  const need = (t: Tensor, size: number, what: string) => {
    if (t.size < size) throw new Error(`matmul: ${what} has ${t.size} elements, needs ${size}`);
  };
  const sa = o.strideA ?? m * k, sb = o.strideB ?? k * n, sc = o.strideC ?? m * n;
  need(tensors.a, sa * (batch - 1) + m * k, "A");
  need(tensors.b, sb * (batch - 1) + k * n, "B");
  need(tensors.c, sc * (batch - 1) + m * n, "C");
  if (o.skip) {
    if (batch > 1 || (o.kernel ?? "matmul") !== "matmul") {
      throw new Error("matmul: skip needs batch 1 and the default kernel");
    }
    need(o.skip.u, m * n, "skip u");
    need(o.skip.d, n, "skip d");
  }
  const tile = o.tile ?? chooseTile(m, n, k, batch, rt.gpu.isFallback);
  if (tile.tm % 4 || tile.tn % 4 || tile.bk % 4 || tile.bk > 32) {
    throw new Error("matmul: tm, tn, bk must be x4 and bk at most 32");
  }
  const file = o.kernel ?? "matmul";
  const tns = TN8_FILES.has(file) ? [4, 8] : [4];
  if (V3_FILES.has(file) && (!tns.includes(tile.tn) || (tile.tm !== 4 && tile.tm !== 8))) {
    throw new Error(`matmul: ${file} needs tn in {${tns}} and tm = 4 or 8`);
  }
  if (V4_FILES.has(file) && !tileFits(tile)) {
    throw new Error(`matmul: tile ${JSON.stringify(tile)} does not fit ${file} (see tileFits)`);
  }
  // vec4 access needs every address the kernel forms to be a multiple of 4 elements: the
  // contiguous dimension and the batch stride (binding offsets are already 256-byte aligned)
  const aligned = (t: Tensor, ...xs: number[]) =>
    t.offset % 16 === 0 && xs.every((x) => x % 4 === 0);
  const defines = {
    TRANS_A: !!o.transA,
    TRANS_B: !!o.transB,
    VEC_A: aligned(tensors.a, o.transA ? m : k, batch > 1 ? sa : 0),
    VEC_B: aligned(tensors.b, o.transB ? k : n, batch > 1 ? sb : 0),
    VEC_C: aligned(tensors.c, n, batch > 1 ? sc : 0),
    SKIP: !!o.skip,
    // the two-pass epilogue (kernels/matmul.wgsl v12): faster where beta·C is read and K is short
    EPI2: (o.beta ?? 0) !== 0 && !o.skip && k <= 128,
    WG_X: tile.wgX,
    WG_Y: tile.wgY,
    TM: tile.tm,
    TN: tile.tn,
    BK: tile.bk,
  };
  const pipeline = await rt.kernel(file, "main", defines);
  return { pipeline, defines, file, tile, sa, sb, sc, batch } satisfies Plan;
}

function mainOp(
  rt: Runtime,
  pl: Plan,
  a: Tensor,
  b: Tensor,
  c: Tensor,
  o: MatmulOptions,
  split: { splits: number; chunk: number; stride: number; alpha: number; beta: number },
): Op {
  const { m, n, k } = o;
  // the default kernel's skip bindings (4, 5): naga counts them as used even where SKIP is false,
  // so without a skip term they get C as a placeholder (never read)
  const skip = o.skip ? [padded(o.skip.u), o.skip.d] : pl.file === "matmul" ? [padded(c), c] : [];
  return rt.op(pl.pipeline, [padded(a), padded(b), padded(c), ...skip], {
    params: [
      m,
      n,
      k,
      pl.sa,
      pl.sb,
      split.stride,
      f32(split.alpha),
      f32(split.beta),
      split.chunk,
      split.splits,
    ],
    workgroups: [
      Math.ceil(n / (pl.tile.wgX * pl.tile.tn)),
      Math.ceil(m / (pl.tile.wgY * pl.tile.tm)),
      pl.batch * split.splits,
    ],
  });
}

/**
 * C = alpha · op(A) · op(B) + beta · C, row-major f32, optionally batched, as ONE dispatch.
 * For weight gradients with a long K prefer {@linkcode matmulOps} (split-K).
 */
export async function matmul(
  rt: Runtime,
  tensors: { a: Tensor; b: Tensor; c: Tensor },
  o: MatmulOptions,
): Promise<Op> {
  const pl = await plan(rt, tensors, o);
  return mainOp(rt, pl, tensors.a, tensors.b, tensors.c, o, {
    splits: 1,
    chunk: roundUp(o.k, pl.tile.bk),
    stride: pl.sc,
    alpha: o.alpha ?? 1,
    beta: o.beta ?? 0,
  });
}

/**
 * Same product as {@linkcode matmul}, as a command list: one dispatch, or two when split-K pays off
 * (few output tiles, long K). The second stage sums the K slices in a fixed order, so results are
 * deterministic. The workspace [splits·batch·M·N] is allocated here unless `workspace` gives it,
 * as a tensor or as a function of the element count (e.g. a build's `ctx.scratch`): it may be
 * shared by ops that never run concurrently (dispatches of one pass are ordered).
 */
export async function matmulOps(
  rt: Runtime,
  tensors: {
    a: Tensor;
    b: Tensor;
    c: Tensor;
    workspace?: Tensor | ((elements: number) => Tensor);
  },
  o: MatmulOptions,
): Promise<Command[]> {
  const pl = await plan(rt, tensors, o);
  const { m, n, k } = o;
  let splits = o.splitK ?? chooseSplitK(m, n, k, pl.batch, pl.tile, rt.gpu.isFallback);
  const chunk = roundUp(Math.ceil(k / Math.max(1, splits)), pl.tile.bk);
  splits = Math.ceil(k / chunk);
  if (splits <= 1) return [await matmul(rt, tensors, { ...o, tile: pl.tile })];
  if (o.skip) throw new Error("matmul: skip is for one dispatch (no split-K)");
  const wsSize = splits * pl.batch * m * n;
  const given = tensors.workspace;
  const ws = typeof given === "function"
    ? given(wsSize)
    : given ?? rt.tensor([wsSize], "f32", undefined, "matmul splitK workspace");
  if (ws.size < wsSize) throw new Error(`matmul: workspace has ${ws.size}, needs ${wsSize}`);
  const first = mainOp(rt, pl, tensors.a, tensors.b, ws, o, {
    splits,
    chunk,
    stride: m * n,
    alpha: 1,
    beta: 0,
  });
  // the current reduce for every main kernel: lab versions keep their own `main` only (their
  // files' reduces expect the dispatch of their time)
  const reduce = await rt.kernel("matmul", "splitk_reduce", pl.defines);
  // a workgroup per 64 outputs of one batch (kernels/matmul.wgsl, splitk_reduce)
  const groups = pl.batch * Math.ceil((m * n) / 64);
  const gx = Math.min(groups, 65535);
  const second = rt.op(reduce, [padded(ws), padded(tensors.c)], {
    params: [m, n, k, pl.batch, 0, pl.sc, f32(o.alpha ?? 1), f32(o.beta ?? 0), chunk, splits],
    workgroups: [gx, Math.ceil(groups / gx), 1],
  });
  return [first, second];
}
