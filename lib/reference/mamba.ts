/**
 * float64 reference of the Mamba block (mamba-ssm 2.2.2 `Mamba`, non-fused path = the maths of
 * `selective_scan_ref`), forward and backward, for checking `kernels/mamba.wgsl` and
 * `lib/nn/mamba.ts`. Written for clarity, not speed: it stores the full state hs [B, L, E, N].
 *
 * Glossary (paper / mamba-minimal notation → here, with shapes; rows are b·L + t):
 * - h [B, L, H]: block input (`hidden_states`); out [B, L, H]: block output.
 * - in_proj.weight [2E, H]: rows 0..E−1 give x (`xi`), rows E..2E−1 give z (the gate); xz [B·L, 2E].
 * - conv1d.weight [E, 1, K], conv1d.bias [E]: causal depthwise conv, weight k = K−1 multiplies the
 *   current position, x[t < 0] = 0; xc = silu(conv) [B·L, E] (the SSM input `u`).
 * - x_proj.weight [R + 2N, E]: xdbl = xc·x_projᵀ [B·L, R + 2N] = [dt_r (R) | Bt (N) | Ct (N)].
 * - dt_proj.weight [E, R], dt_proj.bias [E]: Δ = softplus(dt_r·dt_projᵀ + bias) [B·L, E] (`delta`).
 * - A_log [E, N]: A = −exp(A_log) (`A`); D [E]: skip (`D`).
 * - hs [B, L, E, N]: the selective-scan state `x` of mamba-minimal;
 *   hs[t] = exp(Δ[t]·A)·hs[t−1] + Δ[t]·Bt[t]·xc[t], hs[−1] = 0.
 * - yss [B·L, E] = Σ_n Ct·hs + D·xc; y = yss·silu(z); out = y·out_projᵀ with out_proj.weight [H, E].
 * - softplus follows torch (threshold 20: x > 20 → x).
 *
 * @module
 */

/** Sizes of one Mamba block: batch B, length L, hidden H, inner E, state N, dt rank R, conv K. */
export interface MambaDims {
  B: number;
  L: number;
  H: number;
  E: number;
  N: number;
  R: number;
  K: number;
}

/** Parameter names, in the order gradcheck inputs use (after h), as state_dict suffixes. */
export const MAMBA_PARAM_NAMES = [
  "in_proj.weight",
  "conv1d.weight",
  "conv1d.bias",
  "x_proj.weight",
  "dt_proj.weight",
  "dt_proj.bias",
  "A_log",
  "D",
  "out_proj.weight",
] as const;

/** A Mamba parameter name (state_dict suffix). */
export type MambaParamName = typeof MAMBA_PARAM_NAMES[number];

/** All parameters (or their gradients), PyTorch layouts, row-major. */
export type MambaParams = Record<MambaParamName, Float64Array>;

/** PyTorch shapes of every parameter. */
export function mambaParamShapes(d: MambaDims): Record<MambaParamName, number[]> {
  return {
    "in_proj.weight": [2 * d.E, d.H],
    "conv1d.weight": [d.E, 1, d.K],
    "conv1d.bias": [d.E],
    "x_proj.weight": [d.R + 2 * d.N, d.E],
    "dt_proj.weight": [d.E, d.R],
    "dt_proj.bias": [d.E],
    "A_log": [d.E, d.N],
    "D": [d.E],
    "out_proj.weight": [d.H, d.E],
  };
}

/** Intermediates of the forward pass that the backward pass reuses. */
export interface MambaCache {
  xz: Float64Array;
  /** conv output before SiLU [B·L, E]. */
  pre: Float64Array;
  xc: Float64Array;
  xdbl: Float64Array;
  /** dt_proj output before softplus [B·L, E]. */
  dpre: Float64Array;
  delta: Float64Array;
  /** states [B, L, E, N]. */
  hs: Float64Array;
  yss: Float64Array;
  /** gated output y = yss·silu(z) [B·L, E]. */
  y: Float64Array;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

/** out[m, n] = Σ_k a[m, k]·w[n, k] (a Linear's x·Wᵀ). */
function linear(a: Float64Array, w: Float64Array, m: number, n: number, k: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t] * w[j * k + t];
      out[i * n + j] = s;
    }
  }
  return out;
}

/** Backward of `linear`: returns da [m, k] and ACCUMULATES dw [n, k] += dyᵀ·a. */
function linearBackward(
  a: Float64Array,
  w: Float64Array,
  dy: Float64Array,
  dw: Float64Array,
  m: number,
  n: number,
  k: number,
): Float64Array {
  const da = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const g = dy[i * n + j];
      if (g === 0) continue;
      for (let t = 0; t < k; t++) {
        da[i * k + t] += g * w[j * k + t];
        dw[j * k + t] += g * a[i * k + t];
      }
    }
  }
  return da;
}

/** Forward of the whole block on h [B, L, H]: returns out [B, L, H] and the intermediates. */
export function mambaForward(
  h: Float64Array,
  p: MambaParams,
  d: MambaDims,
): { out: Float64Array; cache: MambaCache } {
  const { B, L, H, E, N, R, K } = d;
  const M = B * L, J = R + 2 * N;
  const xz = linear(h, p["in_proj.weight"], M, 2 * E, H);
  const pre = new Float64Array(M * E), xc = new Float64Array(M * E);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      for (let e = 0; e < E; e++) {
        let s = p["conv1d.bias"][e];
        for (let k = 0; k < K; k++) {
          const tt = t - (K - 1) + k;
          if (tt >= 0) s += p["conv1d.weight"][e * K + k] * xz[(b * L + tt) * 2 * E + e];
        }
        const i = (b * L + t) * E + e;
        pre[i] = s;
        xc[i] = s * sigmoid(s);
      }
    }
  }
  const xdbl = linear(xc, p["x_proj.weight"], M, J, E);
  const dpre = new Float64Array(M * E), delta = new Float64Array(M * E);
  for (let m = 0; m < M; m++) {
    for (let e = 0; e < E; e++) {
      let s = p["dt_proj.bias"][e];
      for (let r = 0; r < R; r++) s += xdbl[m * J + r] * p["dt_proj.weight"][e * R + r];
      dpre[m * E + e] = s;
      delta[m * E + e] = softplus(s);
    }
  }
  const hs = new Float64Array(M * E * N),
    yss = new Float64Array(M * E),
    y = new Float64Array(M * E);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      const m = b * L + t;
      for (let e = 0; e < E; e++) {
        const dl = delta[m * E + e], u = xc[m * E + e];
        let acc = p["D"][e] * u;
        for (let n = 0; n < N; n++) {
          const A = -Math.exp(p["A_log"][e * N + n]);
          const prev = t > 0 ? hs[((m - 1) * E + e) * N + n] : 0;
          const v = Math.exp(dl * A) * prev + dl * xdbl[m * J + R + n] * u;
          hs[(m * E + e) * N + n] = v;
          acc += xdbl[m * J + R + N + n] * v;
        }
        yss[m * E + e] = acc;
        const z = xz[m * 2 * E + E + e];
        y[m * E + e] = acc * z * sigmoid(z);
      }
    }
  }
  const out = linear(y, p["out_proj.weight"], M, H, E);
  return { out, cache: { xz, pre, xc, xdbl, dpre, delta, hs, yss, y } };
}

/** Backward of the whole block: dh [B, L, H] and every parameter gradient (fresh, not added). */
export function mambaBackward(
  h: Float64Array,
  p: MambaParams,
  d: MambaDims,
  dOut: Float64Array,
  cache?: MambaCache,
): { dh: Float64Array; grads: MambaParams } {
  const { B, L, H, E, N, R, K } = d;
  const M = B * L, J = R + 2 * N;
  const c = cache ?? mambaForward(h, p, d).cache;
  const shapes = mambaParamShapes(d);
  const g = Object.fromEntries(
    MAMBA_PARAM_NAMES.map((k) => [k, new Float64Array(shapes[k].reduce((a, b) => a * b, 1))]),
  ) as MambaParams;
  const dy = linearBackward(c.y, p["out_proj.weight"], dOut, g["out_proj.weight"], M, H, E);
  const dxz = new Float64Array(M * 2 * E);
  const dxc = new Float64Array(M * E);
  const dxdbl = new Float64Array(M * J);
  for (let b = 0; b < B; b++) {
    for (let e = 0; e < E; e++) {
      const dhs = new Float64Array(N); // ∂loss/∂hs[t] carried from t+1 (already times a[t+1])
      for (let t = L - 1; t >= 0; t--) {
        const m = b * L + t, i = m * E + e;
        const z = c.xz[m * 2 * E + E + e], sz = sigmoid(z);
        const gy = dy[i] * z * sz; // ∂/∂yss
        dxz[m * 2 * E + E + e] = dy[i] * c.yss[i] * sz * (1 + z * (1 - sz));
        const u = c.xc[i], dl = c.delta[i];
        g["D"][e] += gy * u;
        dxc[i] += gy * p["D"][e];
        let ddl = 0;
        for (let n = 0; n < N; n++) {
          const A = -Math.exp(p["A_log"][e * N + n]);
          const a = Math.exp(dl * A);
          const prev = t > 0 ? c.hs[((m - 1) * E + e) * N + n] : 0;
          dxdbl[m * J + R + N + n] += gy * c.hs[i * N + n];
          const dht = dhs[n] + gy * c.xdbl[m * J + R + N + n];
          const bt = c.xdbl[m * J + R + n];
          ddl += dht * (A * a * prev + bt * u);
          g["A_log"][e * N + n] += dht * dl * a * prev * A;
          dxdbl[m * J + R + n] += dht * dl * u;
          dxc[i] += dht * dl * bt;
          dhs[n] = dht * a;
        }
        const dp = c.dpre[i] > 20 ? ddl : ddl * sigmoid(c.dpre[i]); // torch's softplus threshold
        g["dt_proj.bias"][e] += dp;
        for (let r = 0; r < R; r++) {
          g["dt_proj.weight"][e * R + r] += dp * c.xdbl[m * J + r];
          dxdbl[m * J + r] += dp * p["dt_proj.weight"][e * R + r];
        }
      }
    }
  }
  const dxc2 = linearBackward(c.xc, p["x_proj.weight"], dxdbl, g["x_proj.weight"], M, J, E);
  for (let i = 0; i < M * E; i++) dxc[i] += dxc2[i];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      for (let e = 0; e < E; e++) {
        const i = (b * L + t) * E + e;
        const s = sigmoid(c.pre[i]);
        const dpc = dxc[i] * s * (1 + c.pre[i] * (1 - s));
        g["conv1d.bias"][e] += dpc;
        for (let k = 0; k < K; k++) {
          const tt = t - (K - 1) + k;
          if (tt < 0) continue;
          const j = (b * L + tt) * 2 * E + e;
          g["conv1d.weight"][e * K + k] += dpc * c.xz[j];
          dxz[j] += dpc * p["conv1d.weight"][e * K + k];
        }
      }
    }
  }
  const dh = linearBackward(h, p["in_proj.weight"], dxz, g["in_proj.weight"], M, 2 * E, H);
  return { dh, grads: g };
}

/** Random parameters at a scale where every path (incl. Δ, A_log) has O(1) sensitivity. */
export function mambaRandomParams(
  d: MambaDims,
  randn: (n: number, s: number) => Float64Array,
): MambaParams {
  const s = mambaParamShapes(d);
  const size = (k: MambaParamName) => s[k].reduce((a, b) => a * b, 1);
  const p = {} as MambaParams;
  p["in_proj.weight"] = randn(size("in_proj.weight"), 1 / Math.sqrt(d.H));
  p["conv1d.weight"] = randn(size("conv1d.weight"), 0.5);
  p["conv1d.bias"] = randn(size("conv1d.bias"), 0.3);
  p["x_proj.weight"] = randn(size("x_proj.weight"), 1 / Math.sqrt(d.E));
  p["dt_proj.weight"] = randn(size("dt_proj.weight"), 0.5);
  p["dt_proj.bias"] = randn(size("dt_proj.bias"), 0.5);
  p["A_log"] = randn(size("A_log"), 0.5);
  p["D"] = randn(size("D"), 1);
  p["out_proj.weight"] = randn(size("out_proj.weight"), 1 / Math.sqrt(d.E));
  return p;
}
