/**
 * The relation-aware SSM of SS4Rec: one mamba-ssm 2.2.2 `Mamba` block (SPEC §2.2), forward and
 * backward on the GPU. Output = Mamba(h) only; the SSBlock adds the residual, LayerNorm and dropout.
 *
 * Glossary (paper / mamba-minimal → here; M = B·L rows, row m = b·L + t):
 * - h [B, L, H] (`hidden_states`) → `io.input`; out [B, L, H] → `output`.
 * - xz [M, 2E] = h·in_projᵀ: x = columns 0..E−1 (`xi`), z = columns E..2E−1 (gate `res`).
 * - xc [M, E] = silu(causal depthwise conv1d(x)) (`u`, the SSM input).
 * - xdbl [M, R + 2N] = xc·x_projᵀ = [dt_r (R) | Bt (N) | Ct (N)] (`delta` low rank, `B`, `C`).
 * - Δ [M, E] = softplus(dt_r·dt_projᵀ + dt_proj.bias) — never stored: recomputed inside the scans.
 * - A [E, N] = −exp(A_log); D [E] skip; hs [B, L, E, N] state (`x` in mamba-minimal) — never stored
 *   whole (see below).
 * - y [M, E] = (Σ_n Ct·hs + D·xc)·silu(z); out = y·out_projᵀ.
 *
 * Dispatches. Forward: in_proj matmul → conv1d+SiLU → x_proj matmul → scan_fwd (dt_proj, softplus,
 * scan, D skip and gate fused) → out_proj matmul. Backward: out_proj dW and dy matmuls → scan_bwd
 * (writes ∂xc from the scan, ∂z, per-channel-block partials of ∂xdbl, per-(b, e) partials of
 * ∂A_log, ∂D, ∂dt_proj) → bc_reduce (∂xdbl = Σ of the block partials) → x_proj dW
 * and ∂xc += ∂xdbl·W matmuls → conv_bwd (∂x, partials of ∂conv) → param_reduce (Σ_b of all
 * partials, added to the gradient views) → in_proj dW and ∂h matmuls. Nine matmuls (`matmulOps`: split-K where it pays, e.g. the dW products with k = B·L), five kernels, no
 * host sync, no float atomics.
 *
 * State memory: scan_fwd stores the state entering every chunk of `chunk` (default 16) steps,
 * B·ceil(L/chunk)·N·E floats (218 MB at B = 1024, L = 200, E = 128, N = 32, vs 3.4 GB for all of
 * hs); scan_bwd recomputes each chunk's states from its checkpoint (one extra forward scan in all)
 * into per-invocation private memory, then runs the reverse recurrence.
 *
 * Activation memory (given `ctx.scratch`): xz, xc, xdbl, y and the checkpoints live in scratch
 * shared by every Mamba layer of a build, so only the layer whose forward ran last finds its own
 * there; the others replay `recompute` (in_proj, conv1d, x_proj, scan_fwd: the forward without
 * out_proj) before their backward. ∂xc takes y's memory (y's last reader, the out_proj dW product,
 * runs before scan_bwd). The backward-only temporaries come from the build's backward arena, and
 * scan_bwd + bc_reduce run in batch slices (`scanSlices`) so ∂xdbl's per-block partials need only
 * one slice's rows. Only `out` is this layer's own.
 *
 * Forward-only (`ctx.forwardOnly`, evaluation): xz, xc, xdbl and y are carved from the backward
 * arena (then the region of every layer's forward temporaries), scan_fwd stores no checkpoints
 * (kernel define CKPT false), and nothing of the backward is allocated or compiled.
 *
 * @module
 */

import { matmulOps, splitKWorkspaceSize } from "../gpu/ops.ts";
import { type Command, grid, Tensor } from "../gpu/runtime.ts";
import { randn } from "../reference/gradcheck.ts";
import { addAtLast, gatherLast } from "./elementwise.ts";
import { gatherRows } from "./embedding.ts";
import {
  alignedF32,
  arenaSize,
  backwardRegion,
  type BuildContext,
  type BuiltLayer,
  carve,
  type LayerIO,
  packedBindings,
  type ParamSpec,
  splitKWorkspace,
  tokenRows,
} from "./module.ts";

/** Hyper-parameters of {@linkcode MambaLayer} (mamba-ssm names in comments). */
export interface MambaOptions {
  /** H (`d_model`). */
  hidden: number;
  /** N (`d_state`). */
  state: number;
  /** K (`d_conv`). */
  conv: number;
  /** E = expand·H (`expand`). */
  expand: number;
  /** R (`dt_rank`), default ceil(H / 16). */
  dtRank?: number;
  /** Checkpoint interval of the backward scan's state recomputation (default and at most 16). */
  chunk?: number;
  /** Tuning override of the scans' workgroup shape (tests, benchmarks); default {@linkcode mambaScanShape}. */
  scan?: { EB?: number; FS?: number; FWD?: "e" | "blk" };
  /**
   * Batch slices of the backward scan (scan_bwd + bc_reduce run once per slice), which shrink its
   * per-channel-block partials ∂xdbl [B·L, E/EB, R+2N] — the largest backward temporary — to one
   * slice's rows. Default: as many as keep a slice's partials within
   * {@linkcode MAMBA_SLICE_BYTES} (4 at B = 1,024, L = 200, E = 128, EB = 16; 1 at L = 50).
   */
  scanSlices?: number;
  /**
   * Keep this layer's saved activations (xz, xc, xdbl, y and the scan checkpoints) as its own
   * tensors even when `ctx.scratch` offers shared ones, so a model need not replay `recompute`
   * before this layer's backward. Default false: they are shared through `ctx.scratch`.
   */
  keepActivations?: boolean;
}

/** Largest of 32, 16, …, 1 that divides `n` and is at most `cap`. */
function pow2Divisor(n: number, cap: number): number {
  for (let d = 32; d > 1; d /= 2) if (d <= cap && n % d === 0) return d;
  return 1;
}

/**
 * Default cap on one batch slice's ∂xdbl partials (bytes): WebGPU's default
 * maxStorageBufferBindingSize, 128 MiB.
 */
export const MAMBA_SLICE_BYTES = 2 ** 27;

/** Channel quads per conv_bwd workgroup (kernels/conv1d.wgsl's define EQ; 256 / its TCN). */
const CONV_BWD_QUADS = 32;

/** Unrolled chunk length of scan_bwd (kernels/mamba.wgsl HS): the checkpoint interval is at most this. */
export const MAMBA_MAX_CHUNK = 16;

/**
 * Whether scan_bwd sums ∂Bt/∂Ct over its EB channels in subgroup shuffles (kernels/mamba.wgsl v48,
 * define SG): a subgroup must hold whole blocks of 8 ≤ EB ≤ 32 consecutive invocations.
 */
export function mambaSubgroups(EB: number, subgroupSize: number): boolean {
  return EB >= 8 && EB <= 32 && subgroupSize >= EB;
}

/**
 * Workgroup shape of the scans (kernels/mamba.wgsl v3): EB channels per workgroup, FS scan_bwd steps
 * per reduction flush, T = EB·ceil(N/4) invocations, and the workgroup memory scan_bwd needs, in
 * bytes (without subgroups; v48's subgroup path needs less, as it drops the ∂Bt/∂Ct flush buffer).
 * Prefers FS = 2 and EB = 16 (fastest measured), then narrower blocks.
 */
export function mambaScanShape(
  E: number,
  N: number,
  R: number,
  limits: { maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number },
): { EB: number; FS: number; T: number; bytes: number } {
  const HS = MAMBA_MAX_CHUNK, NGR = Math.ceil(N / 4), NP = 4 * NGR;
  const fits = (EB: number, FS: number) => {
    const T = EB * NGR;
    const bwd = HS * 5 * EB + HS * 2 * NP + HS * R + 2 * EB * R + FS * NP * (3 * EB + 2) +
      HS * (EB + 1);
    const fwd = HS * 5 * EB + HS * 2 * NP + HS * NGR * EB;
    const bytes = 4 * Math.max(bwd, fwd);
    const ok = bytes <= limits.maxComputeWorkgroupStorageSize &&
      T <= limits.maxComputeInvocationsPerWorkgroup;
    return ok ? { EB, FS, T, bytes } : null;
  };
  // H100, B = 1024, L = 200, N = 32 (scan_bwd ms): EB/FS 16/2 7.6, 8/2 8.8, 16/1 10.1, 32/2 11.2,
  // 16/4 12.5, 32/1 15.6 (v2: 13.6)
  for (const FS of [2, 1]) {
    for (let EB = pow2Divisor(E, 16); EB >= 1; EB = EB > 1 ? pow2Divisor(E, EB / 2) : 0) {
      const s = fits(EB, FS);
      if (s) return s;
      if (EB === 1) break;
    }
  }
  throw new Error(`MambaLayer: no scan workgroup shape fits (E = ${E}, N = ${N})`);
}

/** A Mamba block whose parameters are `${prefix}.in_proj.weight`, … in PyTorch layouts. */
export class MambaLayer {
  /** H, hidden width. */
  readonly H: number;
  /** E = expand·H, inner width. */
  readonly E: number;
  /** N, state size. */
  readonly N: number;
  /** R, dt rank. */
  readonly R: number;
  /** K, conv width. */
  readonly K: number;
  /** Checkpoint interval (steps) of the state recomputation in backward. */
  readonly chunk: number;
  /** Workgroup-shape override of the scans. */
  readonly scan: { EB?: number; FS?: number; FWD?: "e" | "blk" };
  /** Batch slices of the backward scan (see {@linkcode MambaOptions.scanSlices}); undefined: default. */
  readonly scanSlices?: number;
  /** See {@linkcode MambaOptions.keepActivations}. */
  readonly keepActivations: boolean;
  /**
   * The forward scan is scan_fwd_e (one invocation per channel, N ≤ 32), which alone offers
   * `LayerIO.lastOnly`.
   */
  readonly scanPerChannel: boolean;
  /** The activations and scratch tensors of the last `build` (tests poison them). */
  scratch: Tensor[] = [];

  /** `prefix` is the state_dict prefix, e.g. "model.0.S6". */
  constructor(readonly prefix: string, options: MambaOptions) {
    this.H = options.hidden;
    this.E = options.expand * options.hidden;
    this.N = options.state;
    this.K = options.conv;
    this.R = options.dtRank ?? Math.ceil(options.hidden / 16);
    this.chunk = options.chunk ?? MAMBA_MAX_CHUNK;
    if (!(this.chunk >= 1 && this.chunk <= MAMBA_MAX_CHUNK)) {
      throw new Error(`MambaLayer: chunk must be 1..${MAMBA_MAX_CHUNK}, got ${this.chunk}`);
    }
    this.scan = options.scan ?? {};
    this.scanSlices = options.scanSlices;
    this.keepActivations = !!options.keepActivations;
    this.scanPerChannel = (this.scan.FWD ?? (this.N <= 32 ? "e" : "blk")) === "e";
  }

  /**
   * Parameters with SS4Rec's official init: Linear weights ~ N(0, 0.02) (the model-wide init that
   * overrides mamba's own), dt_proj.bias = 0, conv1d weight and bias ~ U(−1/√K, 1/√K) (PyTorch's
   * default, fan_in = K for a depthwise conv), A_log[e, n] = log(n + 1), D = 1.
   */
  params(): ParamSpec[] {
    const { H, E, N, R, K, prefix } = this;
    const normal = (n: number) => (rand: () => number) => randn(n, rand, 0.02);
    const uniform = (n: number) => (rand: () => number) => {
      const b = 1 / Math.sqrt(K);
      return Float64Array.from({ length: n }, () => (2 * rand() - 1) * b);
    };
    return [
      { name: `${prefix}.in_proj.weight`, shape: [2 * E, H], init: normal(2 * E * H) },
      { name: `${prefix}.conv1d.weight`, shape: [E, 1, K], init: uniform(E * K) },
      { name: `${prefix}.conv1d.bias`, shape: [E], init: uniform(E) },
      { name: `${prefix}.x_proj.weight`, shape: [R + 2 * N, E], init: normal((R + 2 * N) * E) },
      { name: `${prefix}.dt_proj.weight`, shape: [E, R], init: normal(E * R) },
      { name: `${prefix}.dt_proj.bias`, shape: [E], init: () => new Float64Array(E) },
      {
        name: `${prefix}.A_log`,
        shape: [E, N],
        init: () => Float64Array.from({ length: E * N }, (_, i) => Math.log((i % N) + 1)),
      },
      { name: `${prefix}.D`, shape: [E], init: () => new Float64Array(E).fill(1) },
      { name: `${prefix}.out_proj.weight`, shape: [H, E], init: normal(H * E) },
    ];
  }

  /**
   * Allocates activations for `ctx.batch` × `ctx.seqLen` and returns the dispatch lists.
   * `io.input` is h [B, L, H]; `io.dOutput` [B, L, H] must hold ∂loss/∂output before `backward`;
   * the output goes to `io.output` when given.
   * `backward` overwrites `dInput` (adds into `io.dInputAccumulate` when given) and ADDS every
   * parameter gradient into `ctx.grad(...)`. `io.lengths` lets the scans skip the right padding;
   * `io.lastOnly` computes the output at each row's last valid step only ([B, H]; `dOutput` is
   * then [B, H] too, and the backward ADDS the gradient of `io.lastOnly` into `io.dLastOnly`).
   * `backward` reads activations that `forward` left, so run them in that order with no other
   * forward of this layer in between — or, when `ctx.scratch` is shared with other Mamba layers,
   * run `recompute` right before `backward` (the model does so for every layer but the last),
   * unless the layer keeps its own (`keepActivations`).
   */
  async build(ctx: BuildContext, io: LayerIO): Promise<BuiltLayer> {
    const { rt } = ctx;
    const { H, E, N, R, K } = this;
    // activation rows: B·L, or the packed token count (ctx.packed: conv and scan index rows)
    const B = ctx.batch, L = ctx.seqLen, M = tokenRows(ctx), J = R + 2 * N, JP = N + R + 2 + K + 1;
    const CH = Math.min(this.chunk, L);
    const EV = Math.ceil(E / 4); // channel quads (conv1d.wgsl)
    if (K > 4) throw new Error(`MambaLayer: conv width ${K} > 4 is not supported`);
    const NC = Math.ceil(L / CH);
    const lim = rt.device.limits;
    const { EB, FS } = this.#scanShape(lim);
    // scan_fwd_e (one invocation per (b, e), N ≤ 32 states in named vec4s) unless overridden
    const fwdE = this.scanPerChannel;
    if (fwdE && N > 32) throw new Error("MambaLayer: scan_fwd_e needs N ≤ 32");
    if (B > lim.maxComputeWorkgroupsPerDimension) {
      throw new Error(`MambaLayer: batch ${B} exceeds maxComputeWorkgroupsPerDimension`);
    }
    const fwdOnly = !!ctx.forwardOnly;
    const packed = !!ctx.packed;
    if (packed && !fwdE) {
      throw new Error("MambaLayer: packed tokens need scan_fwd_e (N ≤ 32)");
    }
    // lastOnly (the last block in evaluation and prefix-mode training): the output only at each
    // row's last valid step, [B, H]
    const last = !!io.lastOnly;
    if (last && !(io.lengths && fwdE && io.lastOnly!.size === B * H)) {
      throw new Error(`MambaLayer: lastOnly needs lengths, scan_fwd_e and a [${B}, ${H}] input`);
    }
    if (last && !fwdOnly && io.dLastOnly?.size !== B * H) {
      throw new Error(`MambaLayer: lastOnly in training needs dLastOnly [${B}, ${H}]`);
    }
    if (last && !fwdOnly && packed && io.lastTokens?.size !== B) {
      throw new Error(`MambaLayer: lastOnly in packed training needs lastTokens [${B}]`);
    }
    if (io.input.size !== M * H) throw new Error(`MambaLayer: input must be [${B}, ${L}, ${H}]`);
    if (io.output && io.output.size !== (last ? B : M) * H) {
      throw new Error(`MambaLayer: output must be [${B}, ${last ? "" : `${L}, `}${H}]`);
    }
    if (!fwdOnly && io.dOutput?.size !== (last ? B : M) * H) {
      throw new Error(`MambaLayer: dOutput must be [${B}, ${last ? "" : `${L}, `}${H}]`);
    }
    const p = (s: string) => ctx.param(`${this.prefix}.${s}`);
    const g = (s: string) => ctx.grad(`${this.prefix}.${s}`);
    const t = (shape: number[], name: string) => rt.tensor(shape, "f32", undefined, name);
    const h = io.input.reshape([M, H]);
    // What backward reads besides h and the output: shared by all Mamba layers of a build through
    // ctx.scratch (the model replays `recompute` for every layer but the last), else this layer's.
    // Forward-only, they are mere temporaries of the forward, carved from the backward arena
    // (which holds every layer's forward temporaries then), and scan_fwd writes no checkpoints:
    // `ckpt` is a placeholder binding.
    const keeps = (what: NonNullable<LayerIO["keep"]>[number]) => !!io.keep?.includes(what);
    const saved = (shape: number[], name: string, own = false) =>
      ctx.scratch && !this.keepActivations && !own ? ctx.scratch(name, shape) : t(shape, name);
    const fwdShapes = this.#arenaShapes(B, L, EB, true, M);
    const [xz, xc, xdbl, y] = fwdOnly
      ? carve(backwardRegion(ctx, fwdShapes, "mamba.forward"), fwdShapes)
      : [
        // LAST: in_proj's x half only (z at the last steps is a [B, E] of its own)
        saved([M, last ? E : 2 * E], "mamba.xz", keeps("xz")),
        saved([M, E], "mamba.xc", keeps("xc")),
        saved([M, J], "mamba.xdbl", keeps("xdbl")),
        // LAST: the output at the last steps only, [B, E], its own (∂xc, which takes y's memory
        // otherwise, is carved from the backward arena then)
        last ? t([B, E], "mamba.y_last") : saved([M, E], "mamba.y", keeps("scan")),
      ];
    // LAST: scan_bwd needs only the state after each row's last step (kernels/mamba.wgsl v43),
    // [B, N, E]: its own, so that it overwrites no checkpoints another layer keeps in ctx.scratch
    const ckPerRow = last ? N * E : NC * N * E;
    const ckpt = fwdOnly
      ? t([1], "mamba.ckpt")
      : last
      ? t([B * ckPerRow], "mamba.ckpt")
      : saved([B * ckPerRow], "mamba.ckpt", keeps("scan"));
    const out = io.output ?? t(last ? [B, H] : packed ? [M, H] : [B, L, H], "mamba.out");
    const rowsOut = last ? B : M;

    // split-K products share the build's workspace (else each allocates its own)
    const workspace = splitKWorkspace(ctx);
    // the largest of the three weight-gradient products first, so all of them share one buffer
    if (!fwdOnly) {
      workspace?.(Math.max(
        1,
        ...[[2 * E, H], [H, E], [J, E]].map(([m, n]) =>
          splitKWorkspaceSize({ m, n, k: M, transA: true }, rt.gpu.isFallback)
        ),
      ));
    }
    const scanDefs = {
      E,
      N,
      R,
      K,
      CH,
      EB,
      FS,
      CKPT: !fwdOnly,
      LAST: last,
      PACKED: packed,
      SLIM: false,
      // v48: scan_bwd's ∂Bt/∂Ct sums in subgroup shuffles where the device has them
      SG: mambaSubgroups(EB, rt.gpu.subgroupSize),
    };
    // LAST: the conv reads x from its own [M, E] (in_proj's x half only; z only at the last steps)
    const convDefs = {
      E,
      N,
      R,
      K,
      WG: 64,
      NEB: E / EB,
      EQ: CONV_BWD_QUADS,
      XS: last ? E : 2 * E,
      PACKED: packed,
      LAST: last,
    };
    const params = [B, L];
    // valid steps per row: the scans skip the padding after them (all of it when absent: none)
    const lens = io.lengths ?? rt.tensor([B], "i32", new Int32Array(B).fill(L), "mamba.lengths");
    if (lens.size !== B) throw new Error(`MambaLayer: lengths must be [${B}]`);
    const [, starts] = packedBindings(ctx);
    const [scanF, convF] = await Promise.all([
      rt.kernel("mamba", fwdE ? "scan_fwd_e" : "scan_fwd", scanDefs),
      // 16-byte loads and stores when every row of xz and xc is a whole number of vec4s
      rt.kernel("conv1d", E % 4 === 0 ? "conv_fwd4" : "conv_fwd", convDefs),
    ]);
    const ssmParams = [p("dt_proj.weight"), p("dt_proj.bias"), p("A_log"), p("D")];
    const win = p("in_proj.weight");
    // in_proj.weight's x rows (0..E−1) and z rows (E..2E−1), and the same views of its gradient:
    // w.rows(0 or E, E)
    // LAST: x for every step into the first half of xz's memory, and the gate z for the last steps
    // only, [B, E]: no other step's z is read (nor, in training, has a gradient)
    const xIn = last ? new Tensor(xz.buffer, xz.offset, [M, E], "f32", "mamba.x") : xz;
    const lastRows = last ? t([B, E], "mamba.z_last") : xz;
    const inProj = last
      ? [
        ...await matmulOps(rt, { a: h, b: win.rows(0, E, "in_proj.weight.x"), c: xIn, workspace }, {
          m: M,
          n: E,
          k: H,
          transB: true,
        }),
        ...await matmulOps(rt, {
          a: io.lastOnly!,
          b: win.rows(E, E, "in_proj.weight.z"),
          c: lastRows,
          workspace,
        }, { m: B, n: E, k: H, transB: true }),
      ]
      : await matmulOps(rt, { a: h, b: win, c: xz, workspace }, {
        m: M,
        n: 2 * E,
        k: H,
        transB: true,
      });
    const conv = rt.op(
      convF,
      [xIn, p("conv1d.weight"), p("conv1d.bias"), xc, null, null, null, lens, starts],
      { params, workgroups: grid(B * Math.ceil(L / 8) * EV, 64) },
    );
    const xProj = await matmulOps(rt, { a: xc, b: p("x_proj.weight"), c: xdbl, workspace }, {
      m: M,
      n: J,
      k: E,
      transB: true,
    });
    const scan = rt.op(scanF, [
      lastRows,
      xc,
      xdbl,
      ...ssmParams,
      y,
      ckpt,
      null,
      null,
      null,
      null,
      lens,
      starts,
    ], {
      params: [B, L, 0],
      workgroups: fwdE ? [Math.ceil(E / 64), B, 1] : [E / EB, B, 1],
    });
    // the replay before the backward skips what this layer keeps as its own (io.keep)
    const recompute: Command[] = [
      ...(keeps("xz") ? [] : inProj),
      ...(keeps("xc") ? [] : [conv]),
      ...(keeps("xdbl") ? [] : xProj),
      ...(keeps("scan") ? [] : [scan]),
    ];
    // LAST: scan_fwd_e's output at the last steps, [B, E] (forward-only: at y's start)
    const yOut = last ? new Tensor(y.buffer, y.offset, [B, E], "f32", "mamba.y_last") : y;
    const forward: Command[] = [
      ...inProj,
      conv,
      ...xProj,
      scan,
      ...await matmulOps(rt, {
        a: yOut,
        b: p("out_proj.weight"),
        c: out.reshape([rowsOut, H]),
        workspace,
      }, {
        m: rowsOut,
        n: H,
        k: E,
        transB: true,
      }),
    ];
    if (fwdOnly) {
      this.scratch = [xz, xc, xdbl, y, out];
      return { output: out, forward, backward: [] };
    }

    const dOut = io.dOutput!.reshape([rowsOut, H]);
    // Backward-only temporaries, carved from one region (ctx.scratch's backward arena, shared
    // with every other layer's backward): [dy | dxz | part | bcp (| dxdbl)]. ∂xdbl (bc_reduce,
    // after scan_bwd has consumed dy) takes dy's place when it fits, and ∂h (the last product,
    // after ∂xdbl's last reader) takes it too.
    const shapes = this.#arenaShapes(B, L, EB, false, M);
    const arena = backwardRegion(ctx, shapes, "mamba.backward");
    const [dy, dxzAt, part, bcp, ownDxdbl] = carve(arena, shapes);
    const dxz = new Tensor(dxzAt.buffer, dxzAt.offset, [M, 2 * E], "f32", dxzAt.name);
    // LAST: ∂y and ∂z exist at the last steps only, [B, E] each (tensors of their own: slice by
    // slice ∂xdbl takes the dy region while later slices' scan_bwd still read ∂y), and conv_bwd
    // writes ∂x [M, E] (no z columns) into dxz's region
    const dyS = last ? t([B, E], "mamba.dy_last") : dy;
    const dzS = last ? t([B, E], "mamba.dz_last") : dxz;
    const dx = last ? new Tensor(dxz.buffer, dxz.offset, [M, E], "f32", "mamba.dx") : dxz;
    // ∂xc is first written by scan_bwd, after the out_proj dW product has read y for the last
    // time: it takes y's memory — LAST: dxz's second half (y is [B, E]; ∂x takes the first half),
    // from the first 256-byte boundary past ∂x (the binding offset rule; #arenaShapes)
    const dxc = last
      ? new Tensor(dxz.buffer, dxz.offset + 4 * alignedF32(M * E), [M, E], "f32", "mamba.dxc")
      : new Tensor(y.buffer, y.offset, [M, E], "f32", "mamba.dxc");
    // LAST: ∂x_dbl [M, R + N] (dt_r | Bt: ∂Ct is 0 but at the last steps), and the last steps'
    // whole ∂x_dbl rows [B, J] (their dt_r and Bt parts 0: those are in the [M, R + N] rows), the
    // conv output there [B, E] and its share of ∂xc [B, E] for the two x_proj products at the last
    // steps
    const JD = last ? R + N : J;
    const dxdblAt = ownDxdbl ?? dy;
    const dxdbl = new Tensor(dxdblAt.buffer, dxdblAt.offset, [M, JD], "f32", "mamba.dxdbl");
    const [dxdblLast, xcLast, dxcLast] = last
      ? [t([B, J], "mamba.dxdbl_last"), t([B, E], "mamba.xc_last"), t([B, E], "mamba.dxc_last")]
      : [];
    const dh = io.dInputAccumulate ?? io.dInputTarget ??
      new Tensor(dy.buffer, dy.offset, [M, H], "f32", "mamba.dh");
    // LAST: x_proj's backward at the last steps, with all J rows (the dt_r | Bt parts of
    // dxdblLast are 0): Σ_b ∂x_dbl ⊗ xc into its weight gradient, and ∂x_dbl·W added into ∂xc there
    const xprojAtLast = async () => [
      last && packed ? await gatherRows(rt, io.lastTokens!, xc, xcLast!) : (await gatherLast(rt, {
        input: xc,
        lengths: lens,
        output: xcLast!,
        batch: B,
        seqLen: L,
        dim: E,
      })).forward[0],
      ...await matmulOps(rt, { a: dxdblLast!, b: xcLast!, c: g("x_proj.weight"), workspace }, {
        m: J,
        n: E,
        k: B,
        transA: true,
        beta: 1,
      }),
      ...await matmulOps(rt, { a: dxdblLast!, b: p("x_proj.weight"), c: dxcLast!, workspace }, {
        m: B,
        n: E,
        k: J,
      }),
      await addAtLast(rt, {
        dOutput: dxcLast!,
        dInput: dxc,
        batch: B,
        seqLen: L,
        dim: E,
        ...(packed ? { rows: io.lastTokens! } : { lengths: lens }),
      }),
    ];
    const [scanB, bcReduce, convB, reduce] = await Promise.all([
      rt.kernel("mamba", "scan_bwd", { ...scanDefs, SLIM: last }),
      rt.kernel("conv1d", "bc_reduce", convDefs),
      rt.kernel("conv1d", "conv_bwd", convDefs),
      rt.kernel("conv1d", "param_reduce", convDefs),
    ]);
    const gwin = g("in_proj.weight");
    const backward: Command[] = [
      ...await matmulOps(rt, { a: dOut, b: yOut, c: g("out_proj.weight"), workspace }, {
        m: H,
        n: E,
        k: rowsOut,
        transA: true,
        beta: 1,
      }),
      ...await matmulOps(rt, { a: dOut, b: p("out_proj.weight"), c: dyS, workspace }, {
        m: rowsOut,
        n: E,
        k: H,
      }),
      // scan_bwd + bc_reduce per batch slice: the slices' rows are contiguous in every tensor
      // (row m = b·L + t), so views at the slice's first row serve the kernels unchanged, and
      // ∂xdbl of slice s lands in dy rows that slices ≤ s have already consumed (J ≤ E). Packed
      // tokens: the kernels find a row's tokens through the row starts, so the token tensors are
      // bound whole (where a slice's tokens begin changes with every batch); the same argument
      // holds for ∂xdbl, since a slice's tokens still follow the previous slice's.
      ...this.#slices(B, L, EB, last).flatMap(([b0, nb]) => {
        const v = (x: Tensor, perB: number) =>
          new Tensor(x.buffer, x.offset + 4 * b0 * perB, [nb * perB], "f32", x.name);
        const tok = (x: Tensor, perB: number) => packed ? x : v(x, perB);
        const sp = [nb, L, b0];
        return [
          rt.op(scanB, [
            last ? v(lastRows, E) : tok(xz, L * 2 * E),
            tok(xc, L * E),
            tok(xdbl, L * J),
            ...ssmParams,
            last ? v(dyS, E) : tok(dy, L * E),
            v(ckpt, ckPerRow),
            tok(dxc, L * E),
            last ? v(dzS, E) : tok(dxz, L * 2 * E),
            v(part, E * JP),
            bcp,
            lens,
            starts,
          ], { params: sp, workgroups: [E / EB, nb, 1] }),
          rt.op(bcReduce, [
            bcp,
            tok(dxdbl, L * JD),
            dxdblLast ?? part, // read under LAST only (naga counts the binding as used: bound)
            null,
            null,
            null,
            null,
            lens,
            starts,
          ], {
            params: sp,
            // LAST: then the slice's rows of the last steps' ∂x_dbl, one invocation per element
            workgroups: grid(nb * L * Math.ceil(JD / 4) + (last ? nb * J : 0), 64),
          }),
        ];
      }),
      // x_proj's backward: its dt_r | Bt rows (all of them but LAST) over every step
      ...await matmulOps(rt, { a: dxdbl, b: xc, c: g("x_proj.weight").rows(0, JD), workspace }, {
        m: JD,
        n: E,
        k: M,
        transA: true,
        beta: 1,
      }),
      ...await matmulOps(rt, { a: dxdbl, b: p("x_proj.weight").rows(0, JD), c: dxc, workspace }, {
        m: M,
        n: E,
        k: JD,
        beta: 1,
      }),
      // LAST: and every row (the Ct ones' only non-zero input) at the last steps
      ...(last ? await xprojAtLast() : []),
      rt.op(convB, [xIn, p("conv1d.weight"), p("conv1d.bias"), dxc, dx, part, null, lens, starts], {
        params,
        workgroups: [Math.ceil(EV / CONV_BWD_QUADS), B, 1],
      }),
      rt.op(reduce, [
        part,
        g("A_log"),
        g("D"),
        g("dt_proj.weight"),
        g("dt_proj.bias"),
        g("conv1d.weight"),
        g("conv1d.bias"),
      ], { params, workgroups: [E, 1, 1] }),
      // LAST: in_proj's x rows see ∂x at every step, its z rows ∂z at the last steps (whose
      // input is io.lastOnly, which receives their share of the input gradient)
      ...await matmulOps(rt, { a: dx, b: h, c: last ? gwin.rows(0, E, "x") : gwin, workspace }, {
        m: last ? E : 2 * E,
        n: H,
        k: M,
        transA: true,
        beta: 1,
      }),
      ...await matmulOps(rt, {
        a: dx,
        b: last ? win.rows(0, E, "in_proj.weight.x") : win,
        c: dh.reshape([M, H]),
        workspace,
      }, { m: M, n: H, k: last ? E : 2 * E, beta: io.dInputAccumulate ? 1 : 0 }),
      ...(last
        ? [
          ...await matmulOps(rt, {
            a: dzS,
            b: io.lastOnly!,
            c: gwin.rows(E, E, "z"),
            workspace,
          }, { m: E, n: H, k: B, transA: true, beta: 1 }),
          ...await matmulOps(rt, {
            a: dzS,
            b: win.rows(E, E, "in_proj.weight.z"),
            c: io.dLastOnly!,
            workspace,
          }, { m: B, n: H, k: E, beta: 1 }),
        ]
        : []),
    ];
    this.scratch = [xz, xc, xdbl, y, ckpt, out, arena];
    return { output: out, dInput: dh, forward, backward, recompute };
  }

  /**
   * f32 elements of the backward arena this layer carves (see {@linkcode BACKWARD_ARENA}; in a
   * forward-only build, of its forward temporaries).
   */
  backwardArena(
    ctx: Pick<BuildContext, "rt" | "batch" | "seqLen" | "forwardOnly" | "packed">,
  ): number {
    const { EB } = this.#scanShape(ctx.rt.device.limits);
    return arenaSize(
      this.#arenaShapes(
        ctx.batch,
        ctx.seqLen,
        EB,
        !!ctx.forwardOnly,
        tokenRows(ctx),
      ),
    );
  }

  /** The scans' workgroup shape on an adapter: {@linkcode mambaScanShape}, then `scan`'s overrides. */
  #scanShape(limits: Parameters<typeof mambaScanShape>[3]) {
    return { ...mambaScanShape(this.E, this.N, this.R, limits), ...this.scan };
  }

  /**
   * The backward arena's views: dy, dxz, part, bcp (, dxdbl); forward-only: xz, xc, xdbl, y, of M
   * rows (B·L, or the packed token count; packed, the last rows of B are filler rows, sliced with
   * the others).
   */
  #arenaShapes(
    B: number,
    L: number,
    EB: number,
    forwardOnly: boolean,
    M: number,
  ): number[][] {
    const { E, N, R, K } = this, J = R + 2 * N, JP = N + R + 2 + K + 1;
    if (forwardOnly) return [[M, 2 * E], [M, E], [M, J], [M, E]];
    const rows = Math.max(
      ...[false, true].flatMap((last) => this.#slices(B, L, EB, last)).map(([, nb]) => nb),
    ) * L;
    // ∂xdbl's block partials [rows, E/EB, J], flat and padded to whole vec4s (scan_bwd binds them
    // as array<vec4<f32>>); ∂xz [M, 2E] with room for LAST's ∂x [M, E] and ∂xc [M, E] at 256-byte
    // aligned offsets
    const shapes = [
      [M, E],
      [alignedF32(M * E) + M * E],
      [B, E, JP],
      [Math.ceil((rows * (E / EB) * J) / 4) * 4],
    ];
    return J <= E ? shapes : [...shapes, [M, J]];
  }

  /**
   * The batch slices [first row b, rows] of scan_bwd + bc_reduce: `scanSlices` of nearly equal
   * size, each starting where every per-b view is 256-byte aligned (the binding offset rule);
   * fewer when the batch is too small for that.
   */
  #slices(B: number, L: number, EB: number, last: boolean): [number, number][] {
    const { E, N, R, K } = this, J = R + 2 * N, JP = N + R + 2 + K + 1;
    const NC = Math.ceil(L / Math.min(this.chunk, L));
    // (LAST: the [B, E] tensors of the last steps are sliced per row too)
    const perB = [L * 2 * E, L * E, L * J, NC * N * E, E * JP, ...(last ? [E, L * (R + N)] : [])];
    let unit = 1; // rows per alignment step: every per-b stride times it is a multiple of 64 floats
    while (!perB.every((n) => (n * unit) % 64 === 0)) unit++;
    const want = this.scanSlices ?? Math.ceil((B * L * (E / EB) * J * 4) / MAMBA_SLICE_BYTES);
    const size = Math.ceil(Math.ceil(B / Math.max(1, want)) / unit) * unit;
    const out: [number, number][] = [];
    for (let b0 = 0; b0 < B; b0 += size) out.push([b0, Math.min(size, B - b0)]);
    return out;
  }
}
