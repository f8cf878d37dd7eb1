/**
 * S5's official initialisation (SPEC §2.1 "Init"): HiPPO-LegS in diagonal-plus-low-rank form.
 *
 * Glossary (S5 paper / SPEC → variables, complex = separate re/im arrays or trailing re/im pair):
 * - N = P: state size; `hippoLegS(N)` [N,N]: A_nk = √(2n+1)√(2k+1) (n > k), n+1 (n = k), 0 (n < k)
 * - p [N]: p_n = √(n + ½); S = −A + p pᵀ = −½·I + (skew-symmetric part)
 * - Λ [P] = −½ + i·eig(−iS) (Re = mean of diag(S) = −½; eigenvalues ascending)
 * - V [P,P]: eigenvectors (columns); B̃ = Vᴴ B0 [P,H]; C̃ = C0 V [H,P]
 * - B0 [P,H] real ~ TN(−2,2)·√(1/P)·0.8796; C0 [H,P] = re + i·im, each ~ TN·√(1/(H·P))·0.8796
 *   (TN = standard normal truncated to (−2, 2), whose own std is 0.8796: the golden file's B and C
 *   have exactly these second moments)
 * - D [H] ~ U[0,1); log_step [P] ~ U[ln dt_min, ln dt_max)
 *
 * Eigenvector phases are arbitrary (any unitary V of the eigenspaces gives an equally valid init).
 *
 * @module
 */

import type { ParamSpec } from "./module.ts";

/** The (positive) HiPPO-LegS matrix [N,N], row-major. */
export function hippoLegS(n: number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      if (i > k) a[i * n + k] = Math.sqrt(2 * i + 1) * Math.sqrt(2 * k + 1);
      else if (i === k) a[i * n + k] = i + 1;
    }
  }
  return a;
}

/** Eigen-decomposition of a Hermitian matrix: ascending real eigenvalues, eigenvector columns. */
export interface HermitianEig {
  values: Float64Array;
  /** [N,N] row-major, column j = eigenvector j (real part). */
  vre: Float64Array;
  /** [N,N] imaginary part. */
  vim: Float64Array;
}

/**
 * Cyclic complex Jacobi eigen-solver for a Hermitian matrix (re, im: [N,N] row-major, float64).
 * Only the strictly upper triangle and the real diagonal are read, like LAPACK's `zheev`
 * (numpy `eigh` reads one triangle; −iS has an imaginary diagonal that it ignores).
 */
export function hermitianEig(re: Float64Array, im: Float64Array, n: number): HermitianEig {
  const ar = new Float64Array(n * n), ai = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    ar[i * n + i] = re[i * n + i];
    for (let k = i + 1; k < n; k++) {
      ar[i * n + k] = re[i * n + k];
      ai[i * n + k] = im[i * n + k];
      ar[k * n + i] = re[i * n + k];
      ai[k * n + i] = -im[i * n + k];
    }
  }
  const vr = new Float64Array(n * n), vi = new Float64Array(n * n);
  for (let i = 0; i < n; i++) vr[i * n + i] = 1;
  let norm = 0;
  for (let i = 0; i < n * n; i++) norm += ar[i] * ar[i] + ai[i] * ai[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < n; k++) {
        if (i !== k) off += ar[i * n + k] ** 2 + ai[i * n + k] ** 2;
      }
    }
    if (off <= 1e-30 * norm) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const br = ar[p * n + q], bi = ai[p * n + q];
        const mag = Math.hypot(br, bi);
        if (mag === 0) continue;
        // J = diag(1, e^{−iφ})·R with the real Jacobi rotation R that zeroes |b| (b = |b|e^{iφ}):
        // J = [[c, s], [−s·e^{−iφ}, c·e^{−iφ}]], A ← Jᴴ A J, V ← V J.
        const app = ar[p * n + p], aqq = ar[q * n + q];
        const theta = (aqq - app) / (2 * mag);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        const er = br / mag, ei = -bi / mag; // e^{−iφ}
        const j00r = c, j00i = 0, j01r = s, j01i = 0;
        const j10r = -s * er, j10i = -s * ei, j11r = c * er, j11i = c * ei;
        // columns: A[:,p], A[:,q] and V
        for (const [mr, mi] of [[ar, ai], [vr, vi]]) {
          for (let i = 0; i < n; i++) {
            const xr = mr[i * n + p], xi = mi[i * n + p], yr = mr[i * n + q], yi = mi[i * n + q];
            mr[i * n + p] = xr * j00r - xi * j00i + yr * j10r - yi * j10i;
            mi[i * n + p] = xr * j00i + xi * j00r + yr * j10i + yi * j10r;
            mr[i * n + q] = xr * j01r - xi * j01i + yr * j11r - yi * j11i;
            mi[i * n + q] = xr * j01i + xi * j01r + yr * j11i + yi * j11r;
          }
        }
        // rows: A[p,:] ← conj(j00) A[p,:] + conj(j10) A[q,:]; A[q,:] ← conj(j01) A[p,:] + conj(j11) A[q,:]
        for (let k = 0; k < n; k++) {
          const xr = ar[p * n + k], xi = ai[p * n + k], yr = ar[q * n + k], yi = ai[q * n + k];
          ar[p * n + k] = j00r * xr + j00i * xi + j10r * yr + j10i * yi;
          ai[p * n + k] = j00r * xi - j00i * xr + j10r * yi - j10i * yr;
          ar[q * n + k] = j01r * xr + j01i * xi + j11r * yr + j11i * yi;
          ai[q * n + k] = j01r * xi - j01i * xr + j11r * yi - j11i * yr;
        }
        ar[p * n + q] =
          ai[p * n + q] =
          ar[q * n + p] =
          ai[q * n + p] =
            0;
        ai[p * n + p] = ai[q * n + q] = 0;
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) =>
    ar[x * n + x] - ar[y * n + y]
  );
  const values = new Float64Array(n);
  const vre = new Float64Array(n * n), vim = new Float64Array(n * n);
  order.forEach((src, j) => {
    values[j] = ar[src * n + src];
    for (let i = 0; i < n; i++) {
      vre[i * n + j] = vr[i * n + src];
      vim[i * n + j] = vi[i * n + src];
    }
  });
  return { values, vre, vim };
}

/** The DPLR HiPPO-LegS diagonalisation: Λ (re, im) [P] and eigenvectors V [P,P]. */
export interface DplrHippo {
  lambdaRe: Float64Array;
  lambdaIm: Float64Array;
  vre: Float64Array;
  vim: Float64Array;
}

const dplrCache = new Map<number, DplrHippo>();

/** Λ = −½ + i·eig(−iS), S = −HiPPO_LegS + p pᵀ, and V (cached per size). */
export function dplrHippo(n: number): DplrHippo {
  const hit = dplrCache.get(n);
  if (hit) return hit;
  const a = hippoLegS(n);
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) s[i * n + k] = -a[i * n + k] + Math.sqrt((i + 0.5) * (k + 0.5));
  }
  let mean = 0;
  for (let i = 0; i < n; i++) mean += s[i * n + i] / n;
  // −iS: re = 0, im = −S (the diagonal's imaginary part is ignored, as by eigh)
  const e = hermitianEig(new Float64Array(n * n), s.map((v) => -v), n);
  const out = {
    lambdaRe: new Float64Array(n).fill(mean),
    lambdaIm: e.values,
    vre: e.vre,
    vim: e.vim,
  };
  dplrCache.set(n, out);
  return out;
}

/** Standard normal truncated to (−2, 2) by rejection (its std is 0.8796). */
export function truncatedNormal(rand: () => number): number {
  for (;;) {
    const u = Math.max(rand(), 1e-300), v = rand();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    if (z > -2 && z < 2) return z;
  }
}

/** Std of the standard normal truncated to (−2, 2); JAX's lecun_normal multiplies by it. */
export const TRUNC_STD = 0.87962566103423978;

/**
 * The five S5 parameter specs with the official init, names `prefix + ".Lambda" | ".B" | ".C" |
 * ".D" | ".log_step"` and PyTorch layouts [P,2], [P,H,2], [H,P,2], [H], [P].
 */
export function s5ParamSpecs(
  prefix: string,
  o: { hidden: number; state: number; dtMin: number; dtMax: number },
): ParamSpec[] {
  const { hidden: nh, state: np } = o;
  const hp = () => dplrHippo(np);
  return [
    {
      name: `${prefix}.Lambda`,
      shape: [np, 2],
      init: () => {
        const { lambdaRe, lambdaIm } = hp();
        const out = new Float64Array(np * 2);
        for (let p = 0; p < np; p++) [out[2 * p], out[2 * p + 1]] = [lambdaRe[p], lambdaIm[p]];
        return out;
      },
    },
    {
      name: `${prefix}.B`,
      shape: [np, nh, 2],
      init: (rand) => {
        // B̃ = Vᴴ B0: B̃[p,h] = Σ_k conj(V[k,p]) B0[k,h]
        const { vre, vim } = hp();
        const scale = Math.sqrt(1 / np) * TRUNC_STD;
        const b0 = Float64Array.from({ length: np * nh }, () => truncatedNormal(rand) * scale);
        const out = new Float64Array(np * nh * 2);
        for (let p = 0; p < np; p++) {
          for (let h = 0; h < nh; h++) {
            let r = 0, i = 0;
            for (let k = 0; k < np; k++) {
              r += vre[k * np + p] * b0[k * nh + h];
              i -= vim[k * np + p] * b0[k * nh + h];
            }
            out[(p * nh + h) * 2] = r;
            out[(p * nh + h) * 2 + 1] = i;
          }
        }
        return out;
      },
    },
    {
      name: `${prefix}.C`,
      shape: [nh, np, 2],
      init: (rand) => {
        // C̃ = C0 V: C̃[h,p] = Σ_k C0[h,k] V[k,p]
        const { vre, vim } = hp();
        const scale = Math.sqrt(1 / (nh * np)) * TRUNC_STD;
        const c0r = Float64Array.from({ length: nh * np }, () => truncatedNormal(rand) * scale);
        const c0i = Float64Array.from({ length: nh * np }, () => truncatedNormal(rand) * scale);
        const out = new Float64Array(nh * np * 2);
        for (let h = 0; h < nh; h++) {
          for (let p = 0; p < np; p++) {
            let r = 0, i = 0;
            for (let k = 0; k < np; k++) {
              const xr = c0r[h * np + k], xi = c0i[h * np + k];
              r += xr * vre[k * np + p] - xi * vim[k * np + p];
              i += xr * vim[k * np + p] + xi * vre[k * np + p];
            }
            out[(h * np + p) * 2] = r;
            out[(h * np + p) * 2 + 1] = i;
          }
        }
        return out;
      },
    },
    {
      name: `${prefix}.D`,
      shape: [nh],
      init: (rand) => Float64Array.from({ length: nh }, () => rand()),
    },
    {
      name: `${prefix}.log_step`,
      shape: [np],
      init: (rand) => {
        const lo = Math.log(o.dtMin), hi = Math.log(o.dtMax);
        return Float64Array.from({ length: np }, () => lo + rand() * (hi - lo));
      },
    },
  ];
}
