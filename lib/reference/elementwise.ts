/**
 * float64 references of the element-wise activations.
 *
 * @module
 */

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** SiLU: x·σ(x). */
export function siluForward(x: Float64Array): Float64Array {
  return x.map((v) => v * sigmoid(v));
}

/** dx = dy·σ(x)·(1 + x·(1 − σ(x))). */
export function siluBackward(x: Float64Array, dy: Float64Array): Float64Array {
  return x.map((v, i) => {
    const s = sigmoid(v);
    return dy[i] * s * (1 + v * (1 - s));
  });
}

/** Softplus with PyTorch's threshold: x for x > 20, else log(1 + eˣ). */
export function softplusForward(x: Float64Array): Float64Array {
  return x.map((v) => (v > 20 ? v : Math.log1p(Math.exp(v))));
}

/** dx = dy·σ(x) (dy for x > 20, matching the threshold). */
export function softplusBackward(x: Float64Array, dy: Float64Array): Float64Array {
  return x.map((v, i) => (v > 20 ? dy[i] : dy[i] * sigmoid(v)));
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (PyTorch `approximate="tanh"`): ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluForward(x: Float64Array): Float64Array {
  return x.map((v) => 0.5 * v * (1 + Math.tanh(GELU_C * (v + 0.044715 * v * v * v))));
}

/** Derivative of the tanh-approximated GELU. */
export function geluBackward(x: Float64Array, dy: Float64Array): Float64Array {
  return x.map((v, i) => {
    const t = Math.tanh(GELU_C * (v + 0.044715 * v * v * v));
    const dt = (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * v * v);
    return dy[i] * (0.5 * (1 + t) + 0.5 * v * dt);
  });
}

/** c = a + b. */
export function addForward(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]);
}

/**
 * The PCG hash (O'Neill's `pcg_hash`: one LCG step, then the RXS-M-XS output permutation), the
 * same bit-for-bit as `pcg` in the WGSL kernels. A bijection on u32.
 */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/**
 * The counter-based random u32 every kernel uses: `pcg(index ^ pcg(seed + pcg(salt)))`.
 * `seed` is the per-step seed (ctx.step[1]), `salt` tells dropout sites / samplers apart, `index`
 * is the element (or row) index.
 */
export function randU32(seed: number, salt: number, index: number): number {
  const key = pcgHash((seed + pcgHash(salt)) >>> 0);
  return pcgHash((index ^ key) >>> 0);
}

/** The u32 threshold of drop probability p: an element is kept when its random u32 ≥ it. */
export function dropoutThreshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout probability ${p} must be in [0, 1)`);
  return Math.min(Math.floor(p * 4294967296), 4294967295);
}

/**
 * The dropout multiplier per element: 1/(1−p) where kept, 0 where dropped; all ones when not
 * training or p = 0 (identity).
 */
export function dropoutScale(
  n: number,
  p: number,
  seed: number,
  salt: number,
  training: boolean,
): Float64Array {
  const out = new Float64Array(n).fill(1);
  if (!training || p === 0) return out;
  const thr = dropoutThreshold(p), s = 1 / (1 - p);
  for (let i = 0; i < n; i++) out[i] = randU32(seed, salt, i) >= thr ? s : 0;
  return out;
}

/** Element-wise product (dropout forward and backward given {@linkcode dropoutScale}). */
export function mulForward(a: Float64Array, b: ArrayLike<number>): Float64Array {
  return a.map((v, i) => v * b[i]);
}
