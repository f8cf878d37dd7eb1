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
