/**
 * float64 reference of LayerNorm over the last dimension, and of the fused
 * "dropout + residual add + LayerNorm" the SS4Rec block uses: y = LN(dropout(a) + r).
 *
 * @module
 */

/** Forward: y = (z − mean)/sqrt(var + eps)·gamma + beta per row of `x` [rows, dim] (biased var). */
export function layerNormForward(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  rows: number,
  dim: number,
  eps: number,
): { y: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const y = new Float64Array(rows * dim), mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let h = 0; h < dim; h++) m += x[r * dim + h];
    m /= dim;
    let v = 0;
    for (let h = 0; h < dim; h++) v += (x[r * dim + h] - m) ** 2;
    const s = 1 / Math.sqrt(v / dim + eps);
    mean[r] = m;
    rstd[r] = s;
    for (let h = 0; h < dim; h++) y[r * dim + h] = (x[r * dim + h] - m) * s * gamma[h] + beta[h];
  }
  return { y, mean, rstd };
}

/** Backward: dx (overwrite semantics), dgamma and dbeta summed over rows. */
export function layerNormBackward(
  x: Float64Array,
  gamma: Float64Array,
  dy: Float64Array,
  rows: number,
  dim: number,
  eps: number,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const { mean, rstd } = layerNormForward(x, gamma, new Float64Array(dim), rows, dim, eps);
  const dx = new Float64Array(rows * dim), dgamma = new Float64Array(dim);
  const dbeta = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    let sg = 0, sgx = 0;
    for (let h = 0; h < dim; h++) {
      const xh = (x[r * dim + h] - mean[r]) * rstd[r], d = dy[r * dim + h];
      const g = d * gamma[h];
      sg += g;
      sgx += g * xh;
      dgamma[h] += d * xh;
      dbeta[h] += d;
    }
    sg /= dim;
    sgx /= dim;
    for (let h = 0; h < dim; h++) {
      const xh = (x[r * dim + h] - mean[r]) * rstd[r];
      dx[r * dim + h] = rstd[r] * (dy[r * dim + h] * gamma[h] - sg - xh * sgx);
    }
  }
  return { dx, dgamma, dbeta };
}

/**
 * Fused forward: z = a·mask + res, y = LN(z). `mask` is the dropout multiplier per element
 * (see `dropoutScale`), all ones for no dropout; `res` null for no residual.
 */
export function addNormForward(
  a: Float64Array,
  res: Float64Array | null,
  mask: ArrayLike<number>,
  gamma: Float64Array,
  beta: Float64Array,
  rows: number,
  dim: number,
  eps: number,
): Float64Array {
  const z = a.map((v, i) => v * mask[i] + (res ? res[i] : 0));
  return layerNormForward(z, gamma, beta, rows, dim, eps).y;
}

/** Fused backward: dA = dz·mask, dRes = dz, plus dgamma, dbeta. */
export function addNormBackward(
  a: Float64Array,
  res: Float64Array | null,
  mask: ArrayLike<number>,
  gamma: Float64Array,
  dy: Float64Array,
  rows: number,
  dim: number,
  eps: number,
): { dA: Float64Array; dRes: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const z = a.map((v, i) => v * mask[i] + (res ? res[i] : 0));
  const { dx, dgamma, dbeta } = layerNormBackward(z, gamma, dy, rows, dim, eps);
  return { dA: dx.map((v, i) => v * mask[i]), dRes: dx, dgamma, dbeta };
}
