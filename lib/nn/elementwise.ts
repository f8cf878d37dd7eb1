/**
 * Element-wise layers and small glue ops: activations (SiLU, softplus, GELU-tanh), residual adds,
 * dropout with a counter-based mask, and gather-last (seq_output[b] = x[b, len_b − 1]).
 *
 * Every builder returns pre-built dispatches for fixed tensors (runtime.ts); nothing reads back.
 * Activation gradients are OVERWRITTEN into `dInput` (module.ts convention).
 *
 * @module
 */

import { type Command, f32, grid, type Op, type Runtime, type Tensor } from "../gpu/runtime.ts";
import type { BuildContext } from "./module.ts";
import { dropoutThreshold } from "../reference/elementwise.ts";

/** Forward and backward dispatch lists of a stateless layer. */
export interface FwdBwd {
  forward: Command[];
  backward: Command[];
}

/** The activations `kernels/elementwise.wgsl` implements. */
export type Activation = "silu" | "softplus" | "gelu";

function need(t: Tensor, n: number, what: string): void {
  if (t.size < n) throw new Error(`${what}: tensor ${t.name || ""} has ${t.size} < ${n} elements`);
}

/**
 * y = act(x) element-wise over `n` elements (default: input.size); backward dInput = dOutput ·
 * act'(x) (overwritten, recomputed from x, so nothing extra is stored). GELU is the tanh
 * approximation (PyTorch `approximate="tanh"`); softplus follows PyTorch's threshold 20.
 * `dOutput`/`dInput` may be omitted for a forward-only use (backward is then empty).
 */
export async function activation(
  rt: Runtime,
  kind: Activation,
  io: { input: Tensor; output: Tensor; dOutput?: Tensor; dInput?: Tensor; n?: number },
): Promise<FwdBwd> {
  const n = io.n ?? io.input.size;
  need(io.input, n, kind);
  need(io.output, n, kind);
  const fwd = await rt.kernel("elementwise", `${kind}_forward`);
  const forward: Command[] = [rt.op(fwd, [io.input, io.output], {
    params: [n],
    workgroups: grid(n),
  })];
  const backward: Command[] = [];
  if (io.dOutput && io.dInput) {
    need(io.dOutput, n, kind);
    need(io.dInput, n, kind);
    const bwd = await rt.kernel("elementwise", `${kind}_backward`);
    backward.push(
      rt.op(bwd, [io.input, io.dOutput, io.dInput], { params: [n], workgroups: grid(n) }),
    );
  }
  return { forward, backward };
}

/** c = a + b over `n` elements (default: c.size). `c` may not alias `a` or `b` (use addInPlace). */
export async function add(rt: Runtime, a: Tensor, b: Tensor, c: Tensor, n = c.size): Promise<Op> {
  need(a, n, "add");
  need(b, n, "add");
  const k = await rt.kernel("elementwise", "add");
  return rt.op(k, [a, b, c], { params: [n], workgroups: grid(n) });
}

/** a += b over `n` elements (default: a.size): the residual-gradient sum. */
export async function addInPlace(rt: Runtime, a: Tensor, b: Tensor, n = a.size): Promise<Op> {
  need(b, n, "addInPlace");
  const k = await rt.kernel("elementwise", "add_inplace");
  return rt.op(k, [a, b], { params: [n], workgroups: grid(n) });
}

/** Options of {@linkcode dropout}. */
export interface DropoutIO {
  input: Tensor;
  output: Tensor;
  dOutput?: Tensor;
  dInput?: Tensor;
  /** Drop probability in [0, 1). */
  p: number;
  /**
   * Distinguishes dropout sites within a step: two sites with the same salt (and equal-sized
   * tensors) would drop the same elements. Use a distinct small integer per site.
   */
  salt: number;
  n?: number;
}

/**
 * Inverted dropout: y = x · m, m = 1/(1−p) where `randU32(seed, salt, i) ≥ p·2³²`, else 0, with
 * seed = ctx.step[1]; identity when ctx.step[2] (training) is 0 or p = 0. The mask is a pure
 * function of (seed, salt, element index), so the backward (dInput = dOutput · m, overwritten)
 * recomputes it instead of storing it. Reference: `dropoutScale` in lib/reference/elementwise.ts.
 */
export async function dropout(
  ctx: Pick<BuildContext, "rt" | "step">,
  io: DropoutIO,
): Promise<FwdBwd> {
  const { rt } = ctx;
  const n = io.n ?? io.input.size;
  const params = [n, dropoutThreshold(io.p), f32(1 / (1 - io.p)), io.salt >>> 0];
  const fwd = await rt.kernel("elementwise", "dropout_forward");
  const forward: Command[] = [
    rt.op(fwd, [io.input, io.output, ctx.step], { params, workgroups: grid(n) }),
  ];
  const backward: Command[] = [];
  if (io.dOutput && io.dInput) {
    const bwd = await rt.kernel("elementwise", "dropout_backward");
    backward.push(rt.op(bwd, [io.dOutput, io.dInput, ctx.step], { params, workgroups: grid(n) }));
  }
  return { forward, backward };
}

/** Options of {@linkcode gatherLast}. */
export interface GatherLastIO {
  /** [B, L, H] activations. */
  input: Tensor;
  /** i32 [B] sequence lengths; position clamp(len, 1, L) − 1 is read. */
  lengths: Tensor;
  /** [B, H]. */
  output: Tensor;
  /** [B, H] gradient of the output. */
  dOutput?: Tensor;
  /** [B, L, H] gradient of the input: dOutput at the last position, zeros elsewhere (overwritten). */
  dInput?: Tensor;
  batch: number;
  seqLen: number;
  dim: number;
}

/** seq_output[b] = x[b, len_b − 1] (RecBole `gather_indexes`) and its backward. */
export async function gatherLast(rt: Runtime, io: GatherLastIO): Promise<FwdBwd> {
  const { batch: B, seqLen: L, dim: H } = io;
  need(io.input, B * L * H, "gatherLast input");
  need(io.output, B * H, "gatherLast output");
  const params = [B, L, H];
  const fwd = await rt.kernel("embedding", "gather_last_forward");
  const forward: Command[] = [
    rt.op(fwd, [io.lengths, io.input, io.output], { params, workgroups: grid(B * H) }),
  ];
  const backward: Command[] = [];
  if (io.dOutput && io.dInput) {
    need(io.dInput, B * L * H, "gatherLast dInput");
    const v4 = H % 4 === 0; // 16-byte accesses when rows are whole vec4s
    const bwd = await rt.kernel("embedding", v4 ? "gather_last_backward4" : "gather_last_backward");
    backward.push(
      rt.op(bwd, [io.lengths, io.dOutput, io.dInput], {
        params,
        workgroups: grid(v4 ? B * L * H / 4 : B * L * H),
      }),
    );
  }
  return { forward, backward };
}

/**
 * The backward of picking each row's last step, ADDED into an input gradient that already holds
 * other terms: dInput[row(b)] += dOutput[b] for every b < B, where row(b) is b·L + clamp(len_b, 1,
 * L) − 1 given `lengths` (padded [B, L, H]), or `rows[b]` given i32 `rows` (packed tokens: each
 * row's last token, none when −1). Rows are written by one thread each (they are distinct).
 */
export async function addAtLast(rt: Runtime, io: {
  dOutput: Tensor;
  dInput: Tensor;
  batch: number;
  seqLen: number;
  dim: number;
  lengths?: Tensor;
  rows?: Tensor;
}): Promise<Op> {
  const { batch: B, seqLen: L, dim: H } = io;
  const index = io.rows ?? io.lengths;
  if (!index || index.size !== B) throw new Error("addAtLast needs [B] lengths or rows");
  need(io.dOutput, B * H, "addAtLast dOutput");
  return rt.op(await rt.kernel("embedding", "last_add"), [index, io.dOutput, io.dInput], {
    params: [B, L, H, io.rows ? 1 : 0],
    workgroups: grid(B * H),
  });
}
