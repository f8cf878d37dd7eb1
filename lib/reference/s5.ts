/**
 * float64 reference of the S5 time-aware SSM (SPEC §2.1): causal, one block, ZOH, all P states.
 *
 * Glossary (paper / SPEC notation → variables here, shapes row-major, complex = trailing re/im):
 * - B, L, H, P: batch rows, sequence length, hidden size (64), state size (32)
 * - u [B,L,H]: the input sequence; y [B,L,H]: the output
 * - dt [B,L]: time gaps in seconds (0 on padding)
 * - Λ `Lambda` [P,2]: diagonal continuous-time state matrix (complex)
 * - B̃ `B` [P,H,2], C̃ `C` [H,P,2]: complex input / output matrices; `D` [H]: real feed-through
 * - `logStep` [P]: log time-scale Δ_p; s[t,p] = dt[t]·exp(logStep[p]) (real, ≥ 0)
 * - z = Λ·s; a = exp(z) (state decay); g = s·φ₁(z) = (a − 1)/Λ (ZOH input gain)
 * - v[t,p] = Σ_h B̃[p,h] u[t,h]; x[t,p] = a·x[t−1,p] + g·v[t,p] (x[−1] = 0)
 * - y[t,h] = Re(Σ_p C̃[h,p] x[t,p]) + D[h] u[t,h]
 * - λ (`lam`) [P]: adjoint of x in the reverse scan
 *
 * Complex gradients follow PyTorch: grad = ∂L/∂Re + i·∂L/∂Im, so for w = f(z) holomorphic,
 * z̄-grad += conj(f'(z))·w-grad. The discretisation derivatives are taken through φ₁ rather than
 * through (a − 1)/Λ² as SPEC writes them: same values, but no cancellation when |Λ·s| is small and
 * an exact 0 when a underflows (huge gaps). In particular ∂g/∂s = a and ∂g/∂Λ = s²·φ₁'(z).
 *
 * @module
 */

/** S5 parameters in the PyTorch `state_dict` layouts (float64). */
export interface S5Params {
  /** [P,2] complex Λ. */
  Lambda: Float64Array;
  /** [P,H,2] complex B̃. */
  B: Float64Array;
  /** [H,P,2] complex C̃. */
  C: Float64Array;
  /** [H] real feed-through. */
  D: Float64Array;
  /** [P] log time-scale. */
  logStep: Float64Array;
}

/** Shapes of one S5 call. */
export interface S5Dims {
  batch: number;
  seqLen: number;
  hidden: number;
  state: number;
}

/** Options shared by the reference and the GPU layer. */
export interface S5Options {
  /** Clamp Re(Λ) ≤ −1e-4 in the forward (config `s5_clip_eigs`); clamped entries get 0 Re-grad. */
  clipEigs?: boolean;
}

/** Gradients of S5, same layouts as {@linkcode S5Params}, plus du [B,L,H]. */
export interface S5Grads extends S5Params {
  du: Float64Array;
}

/** Upper bound of Re(Λ) when clipping (s5-pytorch / S5 `clip_eigs`). */
export const CLIP_RE = -1e-4;

// Taylor coefficients: φ₁(z) = Σ z^k/(k+1)!, φ₁'(z) = Σ (k+1) z^k/(k+2)!, k = 0..12 (|z| < 1:
// truncation error < 1e-10).
const PHI1: number[] = [];
const DPHI1: number[] = [];
{
  let f = 1;
  for (let k = 0; k <= 13; k++) {
    f *= k + 1; // (k+1)!
    if (k <= 12) PHI1.push(1 / f);
    if (k >= 1) DPHI1.push(k / f); // k/(k+1)! = (j+1)/(j+2)! for j = k−1
  }
}

/** Complex discretisation of one (Λ, s): decay a, φ₁(z) and φ₁'(z) with z = Λ·s. */
export interface Discretized {
  ar: number;
  ai: number;
  phr: number;
  phi: number;
  dphr: number;
  dphi: number;
}

/**
 * a = exp(Λs), φ₁(Λs) and φ₁'(Λs), series for |z| < 1. A huge negative real part gives a = 0
 * exactly (never 0·cos(huge phase) = NaN): guarded explicitly.
 */
export function discretize(lr: number, li: number, s: number): Discretized {
  const zr = lr * s, zi = li * s;
  const m = Math.exp(zr);
  const ar = m === 0 ? 0 : m * Math.cos(zi), ai = m === 0 ? 0 : m * Math.sin(zi);
  let phr: number, phi: number, dphr: number, dphi: number;
  if (zr * zr + zi * zi < 1) {
    phr = PHI1[12];
    phi = 0;
    dphr = DPHI1[12];
    dphi = 0;
    for (let k = 11; k >= 0; k--) {
      [phr, phi] = [phr * zr - phi * zi + PHI1[k], phr * zi + phi * zr];
      [dphr, dphi] = [dphr * zr - dphi * zi + DPHI1[k], dphr * zi + dphi * zr];
    }
  } else {
    const d = zr * zr + zi * zi;
    // φ₁ = (a − 1)/z, φ₁' = (a − φ₁)/z
    const nr = ar - 1, ni = ai;
    phr = (nr * zr + ni * zi) / d;
    phi = (ni * zr - nr * zi) / d;
    const mr = ar - phr, mi = ai - phi;
    dphr = (mr * zr + mi * zi) / d;
    dphi = (mi * zr - mr * zi) / d;
  }
  return { ar, ai, phr, phi, dphr, dphi };
}

function effLambda(params: S5Params, p: number, o: S5Options): [number, number] {
  const lr = params.Lambda[2 * p], li = params.Lambda[2 * p + 1];
  return [o.clipEigs ? Math.min(lr, CLIP_RE) : lr, li];
}

/** Runs the forward scan; returns y [B,L,H] and the states x [B,L,P,2]. */
export function s5ForwardStates(
  params: S5Params,
  u: Float64Array,
  dt: Float64Array,
  dims: S5Dims,
  options: S5Options = {},
): { y: Float64Array; x: Float64Array } {
  const { batch: nb, seqLen: nl, hidden: nh, state: np } = dims;
  const { B, C, D, logStep } = params;
  const y = new Float64Array(nb * nl * nh);
  const x = new Float64Array(nb * nl * np * 2);
  for (let b = 0; b < nb; b++) {
    for (let p = 0; p < np; p++) {
      const [lr, li] = effLambda(params, p, options);
      const step = Math.exp(logStep[p]);
      let xr = 0, xi = 0;
      for (let t = 0; t < nl; t++) {
        const bt = b * nl + t;
        const s = dt[bt] * step;
        let vr = 0, vi = 0;
        for (let h = 0; h < nh; h++) {
          const uu = u[bt * nh + h];
          vr += B[(p * nh + h) * 2] * uu;
          vi += B[(p * nh + h) * 2 + 1] * uu;
        }
        const d = discretize(lr, li, s);
        const gr = s * d.phr, gi = s * d.phi;
        [xr, xi] = [
          d.ar * xr - d.ai * xi + gr * vr - gi * vi,
          d.ar * xi + d.ai * xr + gr * vi + gi * vr,
        ];
        x[(bt * np + p) * 2] = xr;
        x[(bt * np + p) * 2 + 1] = xi;
      }
    }
  }
  for (let bt = 0; bt < nb * nl; bt++) {
    for (let h = 0; h < nh; h++) {
      let acc = D[h] * u[bt * nh + h];
      for (let p = 0; p < np; p++) {
        const cr = C[(h * np + p) * 2], ci = C[(h * np + p) * 2 + 1];
        acc += cr * x[(bt * np + p) * 2] - ci * x[(bt * np + p) * 2 + 1];
      }
      y[bt * nh + h] = acc;
    }
  }
  return { y, x };
}

/** y [B,L,H] = S5(u [B,L,H], dt [B,L]) per SPEC §2.1. */
export function s5Forward(
  params: S5Params,
  u: Float64Array,
  dt: Float64Array,
  dims: S5Dims,
  options: S5Options = {},
): Float64Array {
  return s5ForwardStates(params, u, dt, dims, options).y;
}

/** Gradients of ⟨dy, S5(u, dt)⟩ w.r.t. u and every parameter (dt is not differentiated). */
export function s5Backward(
  params: S5Params,
  u: Float64Array,
  dt: Float64Array,
  dy: Float64Array,
  dims: S5Dims,
  options: S5Options = {},
): S5Grads {
  const { batch: nb, seqLen: nl, hidden: nh, state: np } = dims;
  const { B, C, D, logStep } = params;
  const { x } = s5ForwardStates(params, u, dt, dims, options);
  const g: S5Grads = {
    Lambda: new Float64Array(np * 2),
    B: new Float64Array(np * nh * 2),
    C: new Float64Array(nh * np * 2),
    D: new Float64Array(nh),
    logStep: new Float64Array(np),
    du: new Float64Array(nb * nl * nh),
  };
  // y = Re(C̃x) + D·u: dC̃ += dy·conj(x), dD += dy·u, du += D·dy
  for (let bt = 0; bt < nb * nl; bt++) {
    for (let h = 0; h < nh; h++) {
      const d = dy[bt * nh + h];
      g.D[h] += d * u[bt * nh + h];
      g.du[bt * nh + h] += D[h] * d;
      for (let p = 0; p < np; p++) {
        g.C[(h * np + p) * 2] += d * x[(bt * np + p) * 2];
        g.C[(h * np + p) * 2 + 1] -= d * x[(bt * np + p) * 2 + 1];
      }
    }
  }
  for (let b = 0; b < nb; b++) {
    for (let p = 0; p < np; p++) {
      const [lr, li] = effLambda(params, p, options);
      const step = Math.exp(logStep[p]);
      let lamr = 0, lami = 0, anr = 0, ani = 0;
      let dlr = 0, dli = 0, dls = 0;
      for (let t = nl - 1; t >= 0; t--) {
        const bt = b * nl + t;
        // λ[t] = Σ_h conj(C̃[h,p]) dy[t,h] + conj(a[t+1]) λ[t+1]
        let gr = 0, gi = 0;
        for (let h = 0; h < nh; h++) {
          const d = dy[bt * nh + h];
          gr += C[(h * np + p) * 2] * d;
          gi -= C[(h * np + p) * 2 + 1] * d;
        }
        [lamr, lami] = [gr + anr * lamr + ani * lami, gi + anr * lami - ani * lamr];
        const s = dt[bt] * step;
        const dd = discretize(lr, li, s);
        const g_r = s * dd.phr, g_i = s * dd.phi;
        let vr = 0, vi = 0;
        for (let h = 0; h < nh; h++) {
          const uu = u[bt * nh + h];
          vr += B[(p * nh + h) * 2] * uu;
          vi += B[(p * nh + h) * 2 + 1] * uu;
        }
        const xpr = t > 0 ? x[((bt - 1) * np + p) * 2] : 0;
        const xpi = t > 0 ? x[((bt - 1) * np + p) * 2 + 1] : 0;
        // dv = conj(g) λ; da = conj(x[t−1]) λ; dg = conj(v) λ
        const dvr = g_r * lamr + g_i * lami, dvi = g_r * lami - g_i * lamr;
        const dar = xpr * lamr + xpi * lami, dai = xpr * lami - xpi * lamr;
        const dgr = vr * lamr + vi * lami, dgi = vr * lami - vi * lamr;
        // dΛ += conj(s·a) da + conj(s²·φ₁') dg
        dlr += s * (dd.ar * dar + dd.ai * dai) + s * s * (dd.dphr * dgr + dd.dphi * dgi);
        dli += s * (dd.ar * dai - dd.ai * dar) + s * s * (dd.dphr * dgi - dd.dphi * dgr);
        // ds = Re(conj(a)·(dg + conj(Λ)·da)); dlog_step += ds·s
        const wr = dgr + lr * dar + li * dai, wi = dgi + lr * dai - li * dar;
        dls += s * (dd.ar * wr + dd.ai * wi);
        // dB̃ += dv·u; du += Re(conj(B̃) dv)
        for (let h = 0; h < nh; h++) {
          const uu = u[bt * nh + h];
          const br = B[(p * nh + h) * 2], bi = B[(p * nh + h) * 2 + 1];
          g.B[(p * nh + h) * 2] += dvr * uu;
          g.B[(p * nh + h) * 2 + 1] += dvi * uu;
          g.du[bt * nh + h] += br * dvr + bi * dvi;
        }
        anr = dd.ar;
        ani = dd.ai;
      }
      const clamped = options.clipEigs && params.Lambda[2 * p] > CLIP_RE;
      g.Lambda[2 * p] += clamped ? 0 : dlr;
      g.Lambda[2 * p + 1] += dli;
      g.logStep[p] += dls;
    }
  }
  return g;
}
