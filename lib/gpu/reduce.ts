/**
 * GPU reductions that stay on the GPU (GPU.md rule 1): the global gradient L2 norm with optional
 * clipping, and per-region statistics (sum of squares, max |x|) with a NaN/Inf detector.
 *
 * All sums are two-stage trees with a fixed shape (kernels/reduce.wgsl), so they are deterministic.
 * Nothing here reads back inside a step: results are GPU tensors, read every N steps or on demand.
 *
 * @module
 */

import { type Command, grid, type Op, type Runtime, Tensor } from "./runtime.ts";

/** Options of {@linkcode GradNorm}. */
export interface GradNormOptions {
  /** Clip so the global norm is at most this (torch clip_grad_norm_); off when absent or <= 0. */
  maxNorm?: number;
  /**
   * Scale the gradients in place by the clip coefficient (one more dispatch). Leave false and pass
   * {@linkcode GradNorm.out} as Adam's `gradScale` (index 1) to fuse the scaling into the update.
   */
  applyClip?: boolean;
}

/** Global L2 norm of a flat tensor into a GPU scalar; optional clipping by max norm. */
export class GradNorm {
  /** f32 [4]: norm, clip coefficient min(1, maxNorm / (norm + 1e-6)) (1 if off), sum sq, 0. */
  readonly out: Tensor;
  readonly #partial: Tensor;
  readonly #groups: number;
  #ops: Op[] = [];

  /** Allocates the partial sums; call {@linkcode init} next. */
  constructor(
    readonly rt: Runtime,
    readonly x: Tensor,
    readonly options: GradNormOptions = {},
  ) {
    // enough workgroups to stream the buffer at full bandwidth, few enough for one final group
    this.#groups = Math.max(1, Math.min(1024, Math.ceil(x.size / (256 * 8))));
    this.#partial = rt.tensor([this.#groups], "f32", undefined, "gradnorm.partial");
    this.out = rt.tensor([4], "f32", [0, 1, 0, 0], "gradnorm.out");
  }

  /** Compiles the kernels and builds the dispatches (once). */
  async init(): Promise<this> {
    const { rt, x } = this;
    const maxNorm = this.options.maxNorm ?? 0;
    const clip = maxNorm > 0 ? 1 : 0;
    const params = [x.size, this.#groups, { f32: maxNorm }, clip];
    this.#ops = [
      rt.op(await rt.kernel("reduce", "sumsq_partial"), [x, this.#partial], {
        params,
        workgroups: this.#groups,
      }),
      rt.op(await rt.kernel("reduce", "norm_final"), [this.#partial, this.out], {
        params,
        workgroups: 1,
      }),
    ];
    if (clip && this.options.applyClip) {
      this.#ops.push(rt.op(await rt.kernel("reduce", "scale"), [x, this.out], {
        params: [x.size, 1, { f32: 0 }, 0],
        workgroups: grid(x.size),
      }));
    }
    return this;
  }

  /** The dispatches: norm (2), then the in-place clip when `applyClip` (1). */
  ops(): Command[] {
    if (!this.#ops.length) throw new Error("GradNorm: call await init() before ops()");
    return [...this.#ops];
  }

  /** Reads [norm, clip coefficient] back (one GPU sync; reports only). */
  async read(): Promise<{ norm: number; coef: number }> {
    const o = await this.rt.read(this.out);
    return { norm: o[0], coef: o[1] };
  }
}

/** A named region: a view of a flat buffer or an activation tensor. */
export interface Region {
  name: string;
  tensor: Tensor;
}

/** Per-region statistics read back by {@linkcode TensorStats.read}. */
export interface RegionStats {
  name: string;
  sumSq: number;
  norm: number;
  maxAbs: number;
  /** Index (within the region) of its first non-finite element, or -1. */
  firstBad: number;
}

/** Summary of the NaN/Inf detector. */
export interface BadValue {
  /** Index of the first offending region in list order, its name, its first bad element. */
  region: number;
  name: string;
  element: number;
  /** How many regions hold a non-finite value. */
  regions: number;
}

const NONE = 0xffffffff;

/**
 * For R named regions (possibly in different GPU buffers): sum of squares and max |x| over the
 * finite elements into `result` [R, 2] f32, and a NaN/Inf detector into `summary` u32 [4 + R]
 * (flag, first offending region in list order, its first bad element, count of offending regions,
 * then each region's first bad element or 0xffffffff). One stage-1 dispatch per distinct buffer,
 * one final dispatch.
 */
export class TensorStats {
  /** f32 [R, 2]: sum of squares, max |x| (finite elements only). */
  readonly result: Tensor;
  /** u32 [4 + R]: see the class comment. */
  readonly summary: Tensor;
  readonly #partial: Tensor;
  readonly #bad: Tensor;
  readonly #slices: number;
  #ops: Op[] = [];

  /** Allocates the tables and partials; call {@linkcode init} next. */
  constructor(readonly rt: Runtime, readonly regions: readonly Region[]) {
    if (!regions.length) throw new Error("TensorStats: no regions");
    const R = regions.length;
    const maxLen = Math.max(...regions.map((r) => r.tensor.size));
    // ~8 elements per thread for the largest region; small regions just idle in most slices
    this.#slices = Math.max(1, Math.min(4096, Math.ceil(maxLen / (256 * 8))));
    this.#partial = rt.tensor([R * this.#slices * 2], "f32", undefined, "stats.partial");
    this.#bad = rt.tensor([R * this.#slices], "u32", undefined, "stats.bad");
    this.result = rt.tensor([R, 2], "f32", undefined, "stats.result");
    this.summary = rt.tensor([4 + R], "u32", undefined, "stats.summary");
  }

  /** Compiles the kernels and builds the dispatches (once). */
  async init(): Promise<this> {
    const { rt } = this;
    const byBuffer = new Map<GPUBuffer, number[]>();
    this.regions.forEach((r, i) => {
      const list = byBuffer.get(r.tensor.buffer) ?? [];
      list.push(i);
      byBuffer.set(r.tensor.buffer, list);
    });
    const partial = await rt.kernel("reduce", "stats_partial");
    this.#ops = [];
    for (const [buffer, idx] of byBuffer) {
      // one binding from the first region (rounded down to the 256-byte binding alignment) to
      // the end of the last, so the binding stays under maxStorageBufferBindingSize
      const lo = Math.floor(Math.min(...idx.map((i) => this.regions[i].tensor.offset)) / 256) * 256;
      const hi = Math.max(...idx.map((i) => {
        const t = this.regions[i].tensor;
        return t.offset + t.byteLength;
      }));
      const data = new Tensor(buffer, lo, [Math.max(1, (hi - lo) / 4)], "f32", "stats.data");
      const table = new Uint32Array(idx.length * 4);
      idx.forEach((g, j) => {
        const t = this.regions[g].tensor;
        table.set([g, (t.offset - lo) / 4, t.size, 0], j * 4);
      });
      const tt = rt.tensor([table.length], "u32", table, "stats.table");
      this.#ops.push(rt.op(partial, [data, this.#partial, tt, this.#bad], {
        params: [0, this.#slices, 0, 0],
        workgroups: [this.#slices, idx.length, 1],
      }));
    }
    this.#ops.push(
      rt.op(await rt.kernel("reduce", "stats_final"), [
        this.#partial,
        this.result,
        this.#bad,
        this.summary,
      ], { params: [this.regions.length, this.#slices, 0, 0], workgroups: 1 }),
    );
    return this;
  }

  /** The dispatches (one per distinct buffer, then the final combine). */
  ops(): Command[] {
    if (!this.#ops.length) throw new Error("TensorStats: call await init() before ops()");
    return [...this.#ops];
  }

  /** Reads the per-region statistics and the first bad value (two GPU syncs; reports only). */
  async read(): Promise<{ regions: RegionStats[]; bad: BadValue | null }> {
    const res = await this.rt.read(this.result);
    const sum = await this.rt.read(this.summary);
    const regions = this.regions.map((r, i) => ({
      name: r.name,
      sumSq: res[2 * i],
      norm: Math.sqrt(res[2 * i]),
      maxAbs: res[2 * i + 1],
      firstBad: sum[4 + i] === NONE ? -1 : sum[4 + i],
    }));
    const bad = sum[0]
      ? { region: sum[1], name: this.regions[sum[1]].name, element: sum[2], regions: sum[3] }
      : null;
    return { regions, bad };
  }
}
