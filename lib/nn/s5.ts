/**
 * The S5 time-aware SSM layer on the GPU (SPEC §2.1), forward and backward.
 *
 * Glossary (SPEC notation → tensors here; shapes row-major, complex = trailing re/im pair):
 * - B, L, H, P: batch rows, sequence length, hidden (64), state (32); BL = B·L
 * - u = `io.input` [B,L,H]; dt = `io.timeGaps` [B,L] seconds; y = `output` [B,L,H]
 * - Λ `.Lambda` [P,2]; B̃ `.B` [P,H,2]; C̃ `.C` [H,P,2]; D `.D` [H]; `.log_step` [P]
 * - Bm [2P,H]: B̃ as a real matrix, row 2p+c = component c of B̃[p,:]
 * - Cm [H,2P]: Cm[h,2p] = Re C̃[h,p], Cm[h,2p+1] = −Im C̃[h,p], so Re(C̃x) = Cm·x and
 *   conj(C̃)ᵀdy = dy·Cm (both re/im at once)
 * - v [BL,P,2] = u·Bmᵀ (= B̃u); x [BL,P,2] the states; G/dv [BL,P,2] = dy·Cm, then dv in place
 *
 * Forward (4 dispatches): prep (Bm, Cm) → v = u·Bmᵀ (matmul, K = H) → scan (a workgroup per row:
 * every (step, state) discretised in parallel, the recurrence walked per state) → y = x·Cmᵀ + D·u
 * (matmul, K = 2P, the skip term in its epilogue). Where u is an embedding lookup table[ids]
 * (`io.lookup`), v = u·Bmᵀ is table·Bmᵀ (a product over the V table rows) gathered by id.
 * Backward (9 dispatches; 7 when `keepActivations`): v and x again (the forward's matmul and scan: v and x are temporaries in
 * the build's shared backward arena, so the layer keeps nothing but y and Bm/Cm between its forward
 * and backward) → per-row dD partials (Σ dy·u; left to the caller with `skipGradByCaller`, as
 * SS4Rec's LayerNorm backward does) → G = dy·Cm (matmul) → reverse scan
 * (G → dv in place, per-row dΛ/dlog_step partials) → du = dv·Bm + D·dy (matmul, the skip term in
 * its epilogue; added into `dInputAccumulate` when given) → split-K matmuls
 * dvᵀ·u → [S,2P,H] and dyᵀ·x → [S,H,2P] → the four deterministic reductions (dB̃, dC̃, dD,
 * dΛ/dlog_step) in one dispatch, ADDED into the grad views. With `io.lookup.grad` the v path's
 * gradient goes to the table by id instead — per-id sums S of dv (the embedding's sort), gradTable
 * += S·Bm, dB̃ = Sᵀ·table — and du is left to the caller (its D·dy: the LayerNorm's `skipAdd`).
 * Given `io.lengths` in the padded layout, the scans walk each row's valid steps only.
 * No [B,L,P,H] tensor exists anywhere; the largest activations are [BL, 2P]. A forward-only build
 * (`ctx.forwardOnly`) carves only v and x from the arena and has no backward.
 *
 * @module
 */

import { grid, type Op, type Runtime, Tensor } from "../gpu/runtime.ts";
import { matmul, matmulOps } from "../gpu/ops.ts";
import { gatherRows } from "./embedding.ts";
import {
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
import { s5ParamSpecs } from "./hippo.ts";

/** Options of {@linkcode S5Layer}. */
export interface S5LayerOptions {
  /** H, the model width. */
  hidden: number;
  /** P, the number of complex states. */
  state: number;
  /** Range of the initial time-scales exp(log_step) (official: 0.001, 0.1). */
  dtMin: number;
  dtMax: number;
  /** Config `s5_clip_eigs`: clamp Re(Λ) ≤ −1e-4 in the forward; clamped Re entries get 0 grad. */
  clipEigs?: boolean;
  /**
   * Keep v = u·B̃ᵀ and the states x from the forward for the backward (2 × [B·L, 2P] per layer)
   * instead of recomputing them there (two dispatches per layer and step). Default false: they
   * live in the shared backward arena and the backward recomputes them.
   */
  keepActivations?: boolean;
}

/** The tensor spanning `ts` (views of one buffer), from the lowest offset to the highest end. */
function span(ts: readonly Tensor[], name: string): Tensor {
  const lo = Math.min(...ts.map((t) => t.offset));
  const hi = Math.max(...ts.map((t) => t.offset + t.byteLength));
  if (ts.some((t) => t.buffer !== ts[0].buffer)) throw new Error(`${name}: views of other buffers`);
  return new Tensor(ts[0].buffer, lo, [(hi - lo) / 4], "f32", name);
}

/**
 * The layer's four parameter-gradient reductions as one dispatch (kernels/s5.wgsl reduce_all, in
 * the order dB̃, dC̃, dD, dΛ/dlog_step): each sums its partials [slices, n] over the slices and ADDS
 * the sums into its gradient views. The partials are views of one buffer (the backward region), the
 * gradients views of the flat gradient buffer, so two bindings hold them all.
 */
function reduceAll(
  rt: Runtime,
  pipeline: GPUComputePipeline,
  tasks: readonly { part: Tensor; n: number; slices: number; out: Tensor; out2?: Tensor }[],
  nh: number,
  np: number,
): Op {
  const parts = span(tasks.map((t) => t.part), "s5 gradient partials");
  const outs = span(tasks.flatMap((t) => t.out2 ? [t.out, t.out2] : [t.out]), "s5 gradients");
  const words: number[] = [nh, np, 0, 0];
  let wg = 0;
  for (const t of tasks) {
    const at = (t.part.offset - parts.offset) / 4, out = (t.out.offset - outs.offset) / 4;
    const out2 = t.out2 ? (t.out2.offset - outs.offset) / 4 : 0;
    words.push(at, t.n, t.slices, out, out2, wg, 0, 0);
    wg += Math.ceil(t.n / 16);
  }
  return rt.op(pipeline, [parts, outs], { params: words, workgroups: wg });
}

/**
 * At most this many slices for the dB̃ and dC̃ products (each sums B·L / slices rows; reduce_all adds
 * the slices). 2 per SM on the H100 at B·L = 204,800 (256 slices): the products 90 → ~70 µs each
 * against 128 (kernels/lab/RESULTS.md, sessions 7 and 11).
 */
const DW_SLICES = 256;

/** Largest divisor of `n` that is ≤ `cap` (the number of split-K slices). */
function splitCount(n: number, cap: number): number {
  for (let d = Math.min(n, cap); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/** The S5 block's SSM (`model.i.S5.seq` in the official state_dict): y = S5(u, dt). */
export class S5Layer {
  /** Creates the layer; `prefix` is the parameter name prefix, e.g. `model.0.S5.seq`. */
  constructor(readonly prefix: string, readonly options: S5LayerOptions) {}

  /** Parameters `prefix + .Lambda [P,2], .B [P,H,2], .C [H,P,2], .D [H], .log_step [P]`. */
  params(): ParamSpec[] {
    return s5ParamSpecs(this.prefix, this.options);
  }

  /**
   * Allocates the activations for ctx.batch × ctx.seqLen and returns the dispatches.
   * `io.input` u [B,L,H], `io.timeGaps` dt [B,L] (required), `io.dOutput` dy [B,L,H].
   * `output` y [B,L,H] (no residual; `io.output` when given); `dInput` du [B,L,H] is overwritten
   * by `backward` (or `io.dInputAccumulate` added into), which also ADDS into the five parameter
   * gradients. `backward` recomputes v and x itself and reads the Bm/Cm that the `forward` of the
   * same step wrote, so run them in that order with unchanged parameters; any other layer's
   * backward may run in between.
   */
  async build(ctx: BuildContext, io: LayerIO): Promise<BuiltLayer> {
    const { rt, batch: nb, seqLen: nl } = ctx;
    const { hidden: nh, state: np } = this.options;
    // activation rows: B·L, or the packed token count (ctx.packed; only the scan sees rows)
    const bl = tokenRows(ctx);
    if (!io.timeGaps) throw new Error(`${this.prefix}: S5 needs io.timeGaps [B,L]`);
    if (io.input.size !== bl * nh) throw new Error(`${this.prefix}: input is not [B,L,H]`);
    const fwdOnly = !!ctx.forwardOnly;
    if (!fwdOnly && io.dOutput?.size !== bl * nh) {
      throw new Error(`${this.prefix}: dOutput is not [B,L,H]`);
    }
    if (io.output && io.output.size !== bl * nh) {
      throw new Error(`${this.prefix}: output is not [B,L,H]`);
    }
    if (io.timeGaps.size !== bl) throw new Error(`${this.prefix}: timeGaps is not [B,L]`);
    // the forward scan's workgroup holds at least one step of all P states
    if (np > 256) throw new Error(`${this.prefix}: state ${np} > 256 is not supported`);
    const name = (s: string) => `${this.prefix}.${s}`;
    const P = (s: string) => ctx.param(name(s));
    const G = (s: string) => ctx.grad(name(s));
    const t = (shape: number[], s: string) => rt.tensor(shape, "f32", undefined, name(s));

    const u = io.input, dt = io.timeGaps, dy = io.dOutput!;
    const y = io.output ?? t(ctx.packed ? [bl, nh] : [nb, nl, nh], "y");
    const bm = t([2 * np, nh], "Bm"), cm = t([nh, 2 * np], "Cm");
    // Everything but y and Bm/Cm lives in the build's backward arena (shared with every other
    // layer's backward temporaries; else this layer's own): v and x are forward temporaries that
    // the backward recomputes first (u·Bmᵀ and the scan: two cheap dispatches), so nothing of
    // this layer survives from its forward but its output — unless `keepActivations`, where v
    // and x are this layer's own and the backward reads the forward's.
    const keep = !fwdOnly && !!this.options.keepActivations;
    const shapes = this.#arenaShapes(nb, fwdOnly, bl);
    const views = carve(backwardRegion(ctx, shapes, name("backward")), shapes);
    const [v, x] = keep ? [t([bl, 2 * np], "v"), t([bl, 2 * np], "x")] : views;

    const params = () => [nb, nl, np, nh, this.options.clipEigs ? 1 : 0];
    // the padded layout with row lengths: the scans skip the right padding (LENS)
    const lens = !ctx.packed && io.lengths;
    if (lens && lens.size !== nb) throw new Error(`${this.prefix}: lengths is not [B]`);
    const k = (entry: string) => rt.kernel("s5", entry, { PACKED: !!ctx.packed, LENS: !!lens });
    // lengths and row starts of packed tokens (placeholders otherwise), or the padded layout's
    // lengths: bindings 8 and 9
    const packedLS = packedBindings(ctx);
    const lensStarts = lens ? [lens, packedLS[1]] : packedLS;

    // v = u·Bmᵀ: a product over the tokens, or, for an embedding lookup, over the table's V rows
    // and a gather (io.lookup)
    const lookup = io.lookup;
    if (lookup && (lookup.table.size % nh || lookup.ids.size < bl)) {
      throw new Error(`${this.prefix}: lookup needs a [V, H] table and ${bl} ids`);
    }
    const vtab = lookup && t([lookup.table.size / nh, 2 * np], "Vtab");
    const project = lookup && vtab
      ? [
        await matmul(rt, { a: lookup.table, b: bm, c: vtab }, {
          m: vtab.shape[0],
          n: 2 * np,
          k: nh,
          transB: true,
        }),
        await gatherRows(rt, lookup.ids, vtab, v),
      ]
      : [await matmul(rt, { a: u, b: bm, c: v }, { m: bl, n: 2 * np, k: nh, transB: true })];
    const recompute = [
      ...project,
      // one workgroup per row (kernels/s5.wgsl scan_forward v2)
      rt.op(
        await k("scan_forward"),
        [dt, P("Lambda"), P("log_step"), v, x, null, null, ...lensStarts],
        { params: params(), workgroups: grid(nb, 1) },
      ),
    ];
    const forward = [
      rt.op(await k("prep"), [P("B"), P("C"), bm, cm], {
        params: params(),
        workgroups: grid(np * nh),
      }),
      ...recompute,
      // y = x·Cmᵀ + D·u, the skip term added in the product's epilogue
      await matmul(rt, { a: x, b: cm, c: y }, {
        m: bl,
        n: nh,
        k: 2 * np,
        transB: true,
        skip: { u, d: P("D") },
      }),
    ];
    if (fwdOnly) return { output: y, forward, backward: [] };

    const [ownDu, gd, partB, partC, partD, partL] = keep ? views : views.slice(2);
    const lookupGrad = lookup?.grad;
    if (lookupGrad && !(lookupGrad.table.size === lookup!.table.size && io.dInputAccumulate)) {
      throw new Error(`${this.prefix}: lookup.grad needs the table's shape and dInputAccumulate`);
    }
    const sdv = lookupGrad && vtab && t([...vtab.shape], "dv_by_id");
    const du = io.dInputAccumulate ?? ownDu;
    const skipD = !!io.skipGradByCaller;
    const slices = partB.shape[0], chunk = bl / slices;
    const backward = [
      ...(keep ? [] : recompute),
      // per-row partials of dD = Σ dy·u (unless the caller adds dD: io.skipGradByCaller)
      ...(skipD ? [] : [
        rt.op(await k("skip_backward"), [u, null, dy, null, partD, null, null, ...lensStarts], {
          params: params(),
          workgroups: grid(nb * nh, 64),
        }),
      ]),
      await matmul(rt, { a: dy, b: cm, c: gd }, { m: bl, n: 2 * np, k: nh }),
      rt.op(
        await k("scan_backward"),
        [dt, P("Lambda"), P("log_step"), v, x, gd, partL, ...lensStarts],
        { params: params(), workgroups: grid(nb * np, 64) },
      ),
      ...(lookupGrad && sdv
        ? [
          // the v path by id (io.lookup.grad): S = per-id sums of dv [V, 2P], gradTable += S·Bm,
          // dB̃ = Sᵀ·table (split-K over V, into the first dB̃ slice)
          ...await lookupGrad.sumById(gd, sdv),
          await matmul(rt, { a: sdv, b: bm, c: lookupGrad.table }, {
            m: sdv.shape[0],
            n: nh,
            k: 2 * np,
            beta: 1,
          }),
          ...await matmulOps(rt, {
            a: sdv,
            b: lookup!.table,
            c: new Tensor(partB.buffer, partB.offset, [2 * np, nh], "f32", name("dB")),
            workspace: splitKWorkspace(ctx),
          }, { m: 2 * np, n: nh, k: sdv.shape[0], transA: true }),
        ]
        : [
          // du = dv·Bm + D·dy (added to the residual's gradient already there with
          // dInputAccumulate)
          await matmul(rt, { a: gd, b: bm, c: du }, {
            m: bl,
            n: nh,
            k: 2 * np,
            beta: io.dInputAccumulate ? 1 : 0,
            skip: { u: dy, d: P("D") },
          }),
          // dB̃ slices: [2P, H] = dv_chunkᵀ · u_chunk
          await matmul(rt, { a: gd, b: u, c: partB }, {
            m: 2 * np,
            n: nh,
            k: chunk,
            transA: true,
            batch: slices,
            strideA: chunk * 2 * np,
            strideB: chunk * nh,
            strideC: 2 * np * nh,
          }),
        ]),
      // dC̃ slices (before conj): [H, 2P] = dy_chunkᵀ · x_chunk
      await matmul(rt, { a: dy, b: x, c: partC }, {
        m: nh,
        n: 2 * np,
        k: chunk,
        transA: true,
        batch: slices,
        strideA: chunk * nh,
        strideB: chunk * 2 * np,
        strideC: nh * 2 * np,
      }),
      reduceAll(
        rt,
        await k("reduce_all"),
        [
          { part: partB, n: 2 * np * nh, slices: lookupGrad ? 1 : slices, out: G("B") },
          { part: partC, n: 2 * np * nh, slices, out: G("C") },
          // an empty task (no workgroups) when the caller adds dD
          { part: partD, n: skipD ? 0 : nh, slices: nb, out: G("D") },
          { part: partL, n: 3 * np, slices: nb, out: G("Lambda"), out2: G("log_step") },
        ],
        nh,
        np,
      ),
    ];
    return { output: y, dInput: du, forward, backward };
  }

  /**
   * f32 elements of the backward arena this layer carves (see {@linkcode BACKWARD_ARENA}; in a
   * forward-only build, of its forward temporaries).
   */
  backwardArena(ctx: Pick<BuildContext, "batch" | "seqLen" | "forwardOnly" | "packed">): number {
    return arenaSize(this.#arenaShapes(ctx.batch, !!ctx.forwardOnly, tokenRows(ctx)));
  }

  /**
   * v, x (unless `keepActivations`), du, G/dv, the split-K slices of dB̃ and dC̃ (each slice sums
   * B·L / slices rows), dD, dΛ; forward-only: v, x (`bl` rows: B·L, or the packed token count).
   */
  #arenaShapes(nb: number, forwardOnly: boolean, bl: number): number[][] {
    const { hidden: nh, state: np } = this.options;
    if (forwardOnly) return [[bl, 2 * np], [bl, 2 * np]];
    const slices = splitCount(bl, DW_SLICES);
    return [
      ...(this.options.keepActivations ? [] : [[bl, 2 * np], [bl, 2 * np]]),
      [bl, nh],
      [bl, 2 * np],
      [slices, 2 * np, nh],
      [slices, nh, 2 * np],
      [nb, nh],
      [nb, 3 * np],
    ];
  }
}
