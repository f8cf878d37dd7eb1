/**
 * Op builders shared by the layers: each returns a ready {@linkcode Op} for fixed tensors.
 *
 * @module
 */

import { f32, type Op, type Runtime, type Tensor } from "./runtime.ts";

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
}

/** C = alpha · op(A) · op(B) + beta · C, row-major f32, optionally batched. */
export async function matmul(
  rt: Runtime,
  tensors: { a: Tensor; b: Tensor; c: Tensor },
  o: MatmulOptions,
): Promise<Op> {
  const { m, n, k, batch = 1 } = o;
  const need = (t: Tensor, size: number, what: string) => {
    if (t.size < size) throw new Error(`matmul: ${what} has ${t.size} elements, needs ${size}`);
  };
  const sa = o.strideA ?? m * k, sb = o.strideB ?? k * n, sc = o.strideC ?? m * n;
  need(tensors.a, sa * (batch - 1) + m * k, "A");
  need(tensors.b, sb * (batch - 1) + k * n, "B");
  need(tensors.c, sc * (batch - 1) + m * n, "C");
  const pipeline = await rt.kernel("matmul", "main", {
    TRANS_A: !!o.transA,
    TRANS_B: !!o.transB,
  });
  return rt.op(pipeline, [tensors.a, tensors.b, tensors.c], {
    params: [m, n, k, sa, sb, sc, f32(o.alpha ?? 1), f32(o.beta ?? 0)],
    workgroups: [Math.ceil(n / 16), Math.ceil(m / 16), batch],
  });
}
