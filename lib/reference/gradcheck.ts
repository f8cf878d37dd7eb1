/**
 * Finite-difference gradient checks in float64, and the error measures every kernel test uses.
 *
 * A reference op is `forward(inputs) -> output` plus `backward(inputs, dOutput) -> dInputs`, all
 * float64. {@linkcode gradcheck} contracts the output with a random cotangent so one scalar loss
 * exercises every output element, then compares the analytic gradient with central differences.
 *
 * @module
 */

/** Deterministic PRNG (mulberry32) so test inputs are fresh per seed but reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box-Muller) from a uniform generator. */
export function randn(n: number, rand: () => number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-300), v = rand();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

/** Relative L2 error ‖a − b‖₂ / ‖b‖₂ (absolute when ‖b‖ is 0). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relErr: lengths ${a.length} vs ${b.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  if (!Number.isFinite(num)) return Infinity;
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Result of a gradient check for one input. */
export interface GradcheckResult {
  input: number;
  /** Largest |analytic − numeric| / max(|numeric|, floor) over the checked entries. */
  maxRelError: number;
  /** Flat index of the worst entry. */
  worst: number;
  analytic: number;
  numeric: number;
}

/**
 * Compares `backward` with central finite differences of `forward` on up to `samples` entries of
 * each differentiable input (all entries when smaller). Inputs listed in `skip` are not perturbed
 * (integer indices, masks).
 */
export function gradcheck(
  forward: (inputs: Float64Array[]) => Float64Array,
  backward: (inputs: Float64Array[], dOut: Float64Array) => (Float64Array | null)[],
  inputs: Float64Array[],
  options: { samples?: number; step?: number; seed?: number; skip?: number[]; floor?: number } = {},
): GradcheckResult[] {
  const { samples = 24, step = 1e-6, seed = 7, skip = [], floor = 1e-8 } = options;
  const rand = rng(seed);
  const out0 = forward(inputs);
  const cot = randn(out0.length, rand);
  const loss = (xs: Float64Array[]) => {
    const y = forward(xs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * cot[i];
    return s;
  };
  const grads = backward(inputs, cot);
  const results: GradcheckResult[] = [];
  inputs.forEach((x, k) => {
    if (skip.includes(k) || !grads[k]) return;
    const g = grads[k]!;
    const idx: number[] = [];
    if (x.length <= samples) { for (let i = 0; i < x.length; i++) idx.push(i); }
    else {
      // always include the largest-|grad| entry: that is where an error shows first
      let best = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[best])) best = i;
      idx.push(best);
      while (idx.length < samples) idx.push(Math.floor(rand() * x.length));
    }
    let worst = { err: 0, i: idx[0], a: g[idx[0]], n: g[idx[0]] };
    for (const i of idx) {
      const h = step * Math.max(1, Math.abs(x[i]));
      const orig = x[i];
      x[i] = orig + h;
      const lp = loss(inputs);
      x[i] = orig - h;
      const lm = loss(inputs);
      x[i] = orig;
      const num = (lp - lm) / (2 * h);
      const err = Math.abs(g[i] - num) / Math.max(Math.abs(num), floor);
      if (err > worst.err || !Number.isFinite(err)) worst = { err, i, a: g[i], n: num };
    }
    results.push({
      input: k,
      maxRelError: worst.err,
      worst: worst.i,
      analytic: worst.a,
      numeric: worst.n,
    });
  });
  return results;
}
