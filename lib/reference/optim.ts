/**
 * Reference optimiser: torch.optim.Adam (single-tensor path, `amsgrad=False`, `maximize=False`,
 * L2 weight decay added to the gradient), step by step in float64 — or with every intermediate
 * rounded to float32 (`f32: true`), which reproduces what torch computes for f32 tensors on CPU.
 *
 * @module
 */

/** Hyper-parameters of {@linkcode adamStepRef}; defaults are torch's. */
export interface AdamRefOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Round every intermediate to float32 like torch on f32 tensors. */
  f32?: boolean;
}

/**
 * One Adam step in place on `param`, `m`, `v` at 1-based step `t`, exactly as torch orders it:
 * `g += wd·p; m.lerp_(g, 1-β1); v = v·β2 + (1-β2)·g²; denom = √v / √(1-β2^t) + eps;
 * p += (-lr/(1-β1^t))·m / denom` (bias corrections in float64, as torch does in Python).
 */
export function adamStepRef(
  param: Float64Array,
  grad: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  t: number,
  o: AdamRefOptions = {},
): void {
  const { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0 } = o;
  const r = o.f32 ? Math.fround : (x: number) => x;
  const bc1 = 1 - beta1 ** t;
  const bc2sqrt = Math.sqrt(1 - beta2 ** t);
  const stepSize = lr / bc1;
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (weightDecay !== 0) g = r(g + r(weightDecay * param[i]));
    m[i] = r(m[i] + r(r(1 - beta1) * r(g - m[i])));
    v[i] = r(r(v[i] * r(beta2)) + r(r(1 - beta2) * r(g * g)));
    const denom = r(r(r(Math.sqrt(v[i])) / r(bc2sqrt)) + r(eps));
    param[i] = r(param[i] + r(r(-stepSize * m[i]) / denom));
  }
}
