/**
 * Deterministic shuffling for epoch order. mulberry32 is tiny, fast and reproducible across
 * platforms (32-bit integer maths only), which is what a seeded training run needs.
 *
 * @module
 */

/** A seeded generator of uniform floats in [0, 1). */
export type Rng = () => number;

/** mulberry32 PRNG seeded with a 32-bit integer. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return function next(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffle `array` in place (Fisher-Yates) and return it. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(
  array: T,
  rng: Rng,
): T {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = array[i];
    array[i] = array[j];
    array[j] = tmp;
  }
  return array;
}

/**
 * The sample order of one epoch: a permutation of 0..n-1 that depends only on (seed, epoch), so a
 * resumed run replays the same order without storing generator state.
 */
export function epochPermutation(n: number, options: { seed: number; epoch: number }): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // Mix epoch into the seed with a large odd constant so neighbouring epochs decorrelate.
  const rng = mulberry32((options.seed ^ Math.imul(options.epoch + 1, 0x9e3779b1)) >>> 0);
  return shuffleInPlace(order, rng);
}
