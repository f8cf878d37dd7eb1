/**
 * float64 references of the dense linear algebra.
 *
 * @module
 */

/** C = alpha·op(A)·op(B) + beta·C (row-major; see lib/gpu/ops.ts `matmul`). */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  o: {
    m: number;
    n: number;
    k: number;
    transA?: boolean;
    transB?: boolean;
    alpha?: number;
    beta?: number;
    c?: ArrayLike<number>;
  },
): Float64Array {
  const { m, n, k, alpha = 1, beta = 0 } = o;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) {
        const av = o.transA ? a[t * m + i] : a[i * k + t];
        const bv = o.transB ? b[j * k + t] : b[t * n + j];
        s += av * bv;
      }
      out[i * n + j] = alpha * s + (beta && o.c ? beta * o.c[i * n + j] : 0);
    }
  }
  return out;
}
